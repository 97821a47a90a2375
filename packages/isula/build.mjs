// Bundles the CLI into one file: one parse, no module resolution at start (Node alone costs ~55 ms
// here; every required file adds to that). Workspace packages are bundled from their TypeScript
// sources so esbuild can drop what `isula` never calls (most generated protobuf code).
import { build } from 'esbuild';
import { workspaceSources } from '../../tools/build/workspace-sources.mjs';
import { chmodSync } from 'node:fs';
import { buildInfo } from '../../tools/build/build-info.mjs';

await build({
  entryPoints: ['src/bin.ts'],
  outfile: 'dist/isula.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: !process.env.ISULA_BUNDLE_READABLE, // readable bundle for profiling
  treeShaking: true,
  legalComments: 'none',
  plugins: [workspaceSources(['argv', 'client', 'protocol'])],
  define: { __ISULA_BUILD_INFO__: JSON.stringify(buildInfo()) },
  logLevel: 'warning',
});
chmodSync('dist/isula.js', 0o755);
