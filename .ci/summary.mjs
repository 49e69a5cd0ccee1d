// Reads vitest's JSON report and prints "passed failed total" (a broken or missing report is a failure).
import { readFileSync } from 'node:fs';

try {
  const r = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const passed = r.numPassedTests ?? 0;
  let failed = r.numFailedTests ?? 0;
  // A suite that failed to load has no failed test of its own: count it as one failure.
  if (failed === 0 && (r.numFailedTestSuites ?? 0) > 0) failed = r.numFailedTestSuites;
  console.log(`${passed} ${failed} ${r.numTotalTests ?? 0}`);
} catch {
  console.log('0 1 0');
}
