// esbuild plugin: bundles @isula/<pkg>[/<entry>] from the package's TypeScript sources (not its
// compiled CommonJS), so esbuild can drop what a binary never uses (most generated protobuf code).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packages = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages');

export function workspaceSources(names) {
  const filter = new RegExp(`^@isula/(${names.join('|')})(/[a-z]+)?$`);
  return {
    name: 'workspace-sources',
    setup(b) {
      b.onResolve({ filter }, (args) => {
        const [, pkg, sub] = /^@isula\/([a-z]+)(?:\/([a-z]+))?$/.exec(args.path);
        return { path: join(packages, pkg, 'src', `${sub ?? 'index'}.ts`) };
      });
    },
  };
}
