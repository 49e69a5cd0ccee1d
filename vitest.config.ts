import { defineConfig } from 'vitest/config';

/** the fuzzers: their own project, after everything else */
const FUZZ = ['test/**/fuzz*.test.ts', 'test/**/fuzz/**/*.test.ts'];

export default defineConfig({
  test: {
    // builds dist/ when stale: spawned bridges run the compiled code (test/global-setup.ts)
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests run real servers on loopback; the machines have 2 cores. (4 workers and
    // isolate: false for them cut CPU 40 % but exposed bridge stops that hang when files share a
    // worker: decisions.md, Code and tests; only the unit files share one.)
    maxWorkers: 2,
    pool: 'forks',
    projects: [
      {
        // Unit files share a module graph per worker: they start no bridge, and the fresh graph per
        // file was 40 % of their CPU (decisions.md, Code and tests). Each restores what it changes:
        // fake timers (restored by every file that takes them), stubbed env and globals (below).
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          exclude: FUZZ,
          isolate: false,
          unstubEnvs: true,
          unstubGlobals: true,
        },
      },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], exclude: FUZZ },
      },
      {
        // The fuzzers saturate a core: they run after everything else, so that the real-time
        // tests (pacing, barge-in timing) never share the machine with them.
        extends: true,
        // Each one saturates a core on purpose, so on a machine that is busy besides (CI beside other
        // work) 100,000 frames may take several times their usual few seconds: bounded, not timed.
        test: {
          name: 'fuzz',
          include: FUZZ,
          sequence: { groupOrder: 1 },
          testTimeout: 300_000,
        },
      },
    ],
  },
});
