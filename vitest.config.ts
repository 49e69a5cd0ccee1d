import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests run real servers on loopback; the machines have 2 cores.
    maxWorkers: 2,
    pool: 'forks',
  },
});
