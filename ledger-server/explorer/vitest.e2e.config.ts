import { defineConfig } from 'vitest/config';

// Browser tests start real servers and Chromium: one file at a time, bounded time.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
