/**
 * Test images and registries for the image suites: the project's own busybox builder, hand-made
 * multi-layer and hostile archives, and Debian's docker-registry started inside a daemon's network
 * namespace (plain http, or TLS with a throwaway CA and htpasswd auth).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, run, sleep, type TestDaemon } from './harness';

const FIXTURES = `/tmp/ie2e-fixtures-${process.pid}`;

/** Every directory the fixtures made; removed by cleanupFixtures() when the suite ends. */
const made: string[] = [FIXTURES];
function scratch(prefix: string): string {
  const dir = mkdtempSync(join('/tmp', prefix));
  made.push(dir);
  return dir;
}

export function cleanupFixtures(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Builds (once per run) the busybox image with tools/images/make-busybox.sh; returns its directory. */
export async function busyboxImage(): Promise<{ tar: string; oci: string }> {
  const dir = join(FIXTURES, 'busybox');
  if (!existsSync(join(dir, 'busybox.tar'))) {
    mkdirSync(dir, { recursive: true });
    const r = await run('bash', [join(REPO, 'tools/images/make-busybox.sh'), dir], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`make-busybox.sh failed: ${r.stderr}`);
  }
  return { tar: join(dir, 'busybox.tar'), oci: join(dir, 'busybox-oci') };
}

/** Builds (once per run) the pod sandbox image (pause-<arch>:3.0) with tools/images/make-pause.sh. */
export async function pauseImage(): Promise<{ tar: string }> {
  const dir = join(FIXTURES, 'pause');
  if (!existsSync(join(dir, 'pause.tar'))) {
    mkdirSync(dir, { recursive: true });
    const r = await run('bash', [join(REPO, 'tools/images/make-pause.sh'), dir], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`make-pause.sh failed: ${r.stderr}`);
  }
  return { tar: join(dir, 'pause.tar') };
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A tar of `files` (made by GNU tar from a scratch directory, whiteouts included as empty files). */
async function tarOf(files: Record<string, string>, dir: string, name: string): Promise<Buffer> {
  const root = join(dir, `${name}-root`);
  for (const [p, content] of Object.entries(files)) {
    const full = join(root, p);
    if (p.endsWith('/')) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(join(full, '..'), { recursive: true });
      writeFileSync(full, content);
    }
  }
  const out = join(dir, `${name}.tar`);
  const r = await run('tar', ['--sort=name', '--mtime=2024-01-01', '--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf', out, '.']);
  if (r.code !== 0) throw new Error(r.stderr);
  return readFileSync(out);
}

/**
 * A docker-save archive of a two-layer image whose second layer deletes a file (whiteout) and
 * replaces a directory (opaque), tagged `layered:latest`.
 */
export async function layeredImage(): Promise<string> {
  const dir = scratch('ie2e-layered-');
  const l1 = await tarOf({ 'keep.txt': 'base', 'gone.txt': 'to be deleted', 'dir/old.txt': 'old' }, dir, 'l1');
  const l2 = await tarOf({ '.wh.gone.txt': '', 'dir/.wh..wh..opq': '', 'dir/new.txt': 'new', 'added.txt': 'added' }, dir, 'l2');
  const config = JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2024-01-02T03:04:05.123456789Z', config: { Cmd: ['sh'], Labels: { suite: 'e2e' } },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(l1)}`, `sha256:${sha256(l2)}`] },
  });
  const cfgHex = sha256(config);
  const arch = join(dir, 'archive');
  mkdirSync(join(arch, 'l1'), { recursive: true });
  mkdirSync(join(arch, 'l2'), { recursive: true });
  writeFileSync(join(arch, 'l1/layer.tar'), l1);
  writeFileSync(join(arch, 'l2/layer.tar'), l2);
  writeFileSync(join(arch, `${cfgHex}.json`), config);
  writeFileSync(join(arch, 'manifest.json'), JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['layered:latest'], Layers: ['l1/layer.tar', 'l2/layer.tar'] }]));
  const out = join(dir, 'layered.tar');
  await run('tar', ['-C', arch, '-cf', out, '.']);
  return out;
}

/** A docker-save archive whose only layer carries `entry` (a hostile name or link). */
export async function hostileImage(kind: 'dotdot' | 'symlink-escape' | 'hardlink-escape', sentinel: string): Promise<string> {
  const dir = scratch('ie2e-hostile-');
  const py = {
    dotdot: `t.addfile(info("../../../../${sentinel.slice(1)}", b"pwned"), io.BytesIO(b"pwned"))`,
    'symlink-escape': `s = tarfile.TarInfo("esc"); s.type = tarfile.SYMTYPE; s.linkname = "${join(sentinel, '..')}"; t.addfile(s)
t.addfile(info("esc/${sentinel.split('/').pop()}", b"pwned"), io.BytesIO(b"pwned"))`,
    'hardlink-escape': `h = tarfile.TarInfo("hl"); h.type = tarfile.LNKTYPE; h.linkname = "../../../../${sentinel.slice(1)}"; t.addfile(h)`,
  }[kind];
  const layer = join(dir, 'layer.tar');
  const script = `import tarfile, io, sys
def info(name, data):
    i = tarfile.TarInfo(name); i.size = len(data); return i
t = tarfile.open(sys.argv[1], "w")
${py}
t.close()`;
  const r = await run('python3', ['-c', script, layer]);
  if (r.code !== 0) throw new Error(r.stderr);
  const l = readFileSync(layer);
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(l)}`] } });
  const arch = join(dir, 'archive');
  mkdirSync(join(arch, 'l'), { recursive: true });
  writeFileSync(join(arch, 'l/layer.tar'), l);
  writeFileSync(join(arch, `${sha256(config)}.json`), config);
  writeFileSync(join(arch, 'manifest.json'), JSON.stringify([{ Config: `${sha256(config)}.json`, RepoTags: [`hostile-${kind}:latest`], Layers: ['l/layer.tar'] }]));
  const out = join(dir, 'hostile.tar');
  await run('tar', ['-C', arch, '-cf', out, '.']);
  return out;
}

export interface Registry {
  /** host:port as the daemon reaches it (inside its network namespace). */
  host: string;
  dir: string;
  /** Runs skopeo inside the daemon's network namespace (to push test images). */
  skopeo(args: string[]): ReturnType<typeof run>;
  stop(): Promise<void>;
}

/** Starts Debian's registry inside the daemon's network namespace, plain or TLS + htpasswd. */
export async function startRegistry(d: TestDaemon, opts: { port: number; tls?: boolean; user?: string; password?: string }): Promise<Registry> {
  const pid = d.pid();
  if (pid === undefined) throw new Error('daemon not running');
  const dir = mkdtempSync(join('/tmp', 'ie2e-reg-'));
  const host = `127.0.0.1:${opts.port}`;
  let tlsConf = '';
  let authConf = '';
  if (opts.tls) {
    const ossl = (args: string[]) => run('openssl', args, { timeoutMs: 60_000 });
    await ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ie2e-ca', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt')]);
    await ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr')]);
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    await ossl(['x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '2', '-extfile', join(dir, 'ext.cnf'), '-out', join(dir, 'server.crt')]);
    tlsConf = `  tls:\n    certificate: ${dir}/server.crt\n    key: ${dir}/server.key\n`;
  }
  if (opts.user) {
    const h = await run('htpasswd', ['-Bbn', opts.user, opts.password ?? '']);
    writeFileSync(join(dir, 'htpasswd'), h.stdout);
    authConf = `auth:\n  htpasswd:\n    realm: ie2e\n    path: ${dir}/htpasswd\n`;
  }
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n${tlsConf}${authConf}`,
  );
  const child: ChildProcess = spawn('nsenter', ['-t', String(pid), '-n', '/usr/bin/docker-registry', 'serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const scheme = opts.tls ? 'https' : 'http';
  for (let i = 0; ; i++) {
    const r = await run('nsenter', ['-t', String(pid), '-n', 'curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', `${scheme}://${host}/v2/`]);
    if (r.stdout === '200' || r.stdout === '401') break;
    if (i > 100) throw new Error(`registry did not start: ${err}`);
    await sleep(100);
  }
  const creds = opts.user ? ['--dest-creds', `${opts.user}:${opts.password}`] : [];
  return {
    host,
    dir,
    skopeo: (args) =>
      run('nsenter', ['-t', String(pid), '-n', 'skopeo', '--insecure-policy', ...args.flatMap((a) => (a === '{creds}' ? creds : [a])), ...[]], { timeoutMs: 120_000 }),
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An OCI layout (`<dir>:multi`) whose tag points at an image index with an amd64 entry (busybox)
 * and an arm64 entry (same layers, config saying arm64). Returns the layout and both config digests.
 */
export async function multiArchLayout(): Promise<{ layout: string; amd64Config: string; arm64Config: string }> {
  const { oci } = await busyboxImage();
  const dir = scratch('ie2e-multi-');
  await run('cp', ['-a', `${oci}/.`, dir]);
  const blob = (d: string) => join(dir, 'blobs/sha256', d.replace(/^sha256:/, ''));
  const put = (data: string) => {
    const d = sha256(data);
    writeFileSync(join(dir, 'blobs/sha256', d), data);
    return { digest: `sha256:${d}`, size: Buffer.byteLength(data) };
  };
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const amdDesc = index.manifests[0];
  const amdManifest = JSON.parse(readFileSync(blob(amdDesc.digest), 'utf8'));
  const armConfig = JSON.parse(readFileSync(blob(amdManifest.config.digest), 'utf8'));
  armConfig.architecture = 'arm64';
  const armCfg = put(JSON.stringify(armConfig));
  const armManifest = put(JSON.stringify({ ...amdManifest, config: { ...amdManifest.config, ...armCfg } }));
  const nested = put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amdDesc.digest, size: amdDesc.size, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...armManifest, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', ...nested, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }),
  );
  return { layout: dir, amd64Config: amdManifest.config.digest.slice(7), arm64Config: armCfg.digest.slice(7) };
}
