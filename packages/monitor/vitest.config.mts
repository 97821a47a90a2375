import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Real containers through runc: a few seconds each, one at a time within the file.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
