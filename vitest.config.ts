import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Real-Envoy suites each start processes on loopback; two cores, so one file at a time for e2e.
    fileParallelism: true,
    pool: 'forks',
  },
});
