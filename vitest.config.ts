import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // builds dist/ when stale: spawned bridges run the compiled code (test/global-setup.ts)
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests mostly wait on real-time calls (load ~1.3 with 2 workers on 2 cores): 4 workers
    // fill the idle time; the tests must hold on a loaded machine anyway (decisions.md, Code and tests).
    maxWorkers: 4,
    pool: 'forks',
    // A worker imports the bridge's modules once, not once per file: the suite spent 560 s of CPU
    // with a fresh module graph per file and 321 s without (same 1,283 tests, a 2-core machine at
    // load ~17; decisions.md, "Code and tests"). Test files therefore must not leave global state
    // behind: fake timers restored, env restored, every server closed (the janitors do this).
    isolate: false,
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: ['test/**/fuzz*.test.ts', 'test/**/fuzz/**'] },
      },
      {
        // The fuzzers saturate a core: they run after everything else, so that the real-time
        // tests (pacing, barge-in timing) never share the machine with them.
        extends: true,
        // Each one saturates a core on purpose, so on a machine that is busy besides (CI beside other
        // work) 100,000 frames may take several times their usual few seconds: bounded, not timed.
        test: {
          name: 'fuzz',
          include: ['test/**/fuzz*.test.ts', 'test/**/fuzz/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          testTimeout: 300_000,
        },
      },
    ],
  },
});
