import { defineConfig } from 'vitest/config';

// One run for every suite: unit tests next to the code in each package, then the e2e suites that
// drive the real binaries. Each project keeps its own settings in its own vitest.config.mts.
export default defineConfig({
  test: {
    projects: ['packages/*', 'tools/certs', 'e2e'],
    maxWorkers: 2,
  },
});
