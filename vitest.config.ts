import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The native addon and its child actors need real processes, not worker threads.
    pool: 'forks',
    testTimeout: 30_000,
  },
});
