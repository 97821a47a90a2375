// Bundles the CLI into one file: one parse, no module resolution at start (Node alone costs ~55 ms
// here; every required file adds to that).
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { buildInfo } from '../../tools/build/build-info.mjs';

await build({
  entryPoints: ['src/bin.ts'],
  outfile: 'dist/isula.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  define: { __ISULA_BUILD_INFO__: JSON.stringify(buildInfo()) },
  logLevel: 'warning',
});
chmodSync('dist/isula.js', 0o755);
