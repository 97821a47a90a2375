import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { run, startDaemon, waitFor, type TestDaemon } from './harness';
import { busyboxImage, cleanupFixtures, hostileImage, layeredImage, multiArchLayout, startRegistry, type Registry } from './images-fixtures';

const daemons: TestDaemon[] = [];
const registries: Registry[] = [];
const track = <T extends TestDaemon>(d: T) => (daemons.push(d), d);
afterEach(async () => {
  await Promise.all(registries.splice(0).map((r) => r.stop()));
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
});
// Scratch paths the tests below use besides the fixtures; removed whatever the outcome.
const scratchPaths: string[] = [];
afterAll(() => {
  cleanupFixtures();
  for (const p of scratchPaths) require('node:fs').rmSync(p, { recursive: true, force: true });
});

const ok = async (d: TestDaemon, args: string[]) => {
  const r = await d.isula(args);
  expect(r.code, `isula ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
};

describe('load, images, tag, inspect, rmi', () => {
  it('loads the busybox docker-save archive and lists it with upstream columns', async () => {
    const { tar } = await busyboxImage();
    const d = track(await startDaemon());
    const load = await ok(d, ['load', '-i', tar]);
    expect(load.stdout).toBe(`Load image from "${tar}" success\n`);
    const images = await ok(d, ['images']);
    const [header, row] = images.stdout.split('\n');
    expect(header).toMatch(/^REPOSITORY {21}TAG {8}IMAGE ID {13}CREATED {14}SIZE {7}$/);
    expect(row).toMatch(/^busybox {24}latest {5}[0-9a-f]{12} {9}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}\d+\.\d{3}MB +$/);
    const id = (await ok(d, ['inspect', '-f', '{{.image.id}}', 'busybox'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.includes(id.slice(0, 12))).toBe(true);
    const quiet = await ok(d, ['images', '-q']);
    expect(quiet.stdout).toBe(`${id.slice(0, 12)}\n`);
  });

  it('tags, untags a second name, refuses an unknown image, removes by id', async () => {
    const { tar } = await busyboxImage();
    const d = track(await startDaemon());
    await ok(d, ['load', '-i', tar]);
    await ok(d, ['tag', 'busybox', 'mybox:v1']);
    const list = (await ok(d, ['images'])).stdout;
    expect(list).toMatch(/\nmybox +v1 /);
    expect((await ok(d, ['images', '-f', 'reference=mybox'])).stdout.split('\n').filter(Boolean)).toHaveLength(2);
    const rmi = await ok(d, ['rmi', 'mybox:v1']);
    expect(rmi.stdout).toBe('Image "mybox:v1" removed\n');
    expect((await ok(d, ['images'])).stdout).not.toContain('mybox');
    const missing = await d.isula(['rmi', 'nosuch:latest']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('Error response from daemon: No such image:nosuch:latest\n');
    const id = (await ok(d, ['inspect', '-f', '{{.image.id}}', 'busybox'])).stdout.trim();
    await ok(d, ['rmi', id.slice(0, 12)]);
    expect((await ok(d, ['images', '-q'])).stdout).toBe('');
    // Layers went with the last image: nothing left under the overlay home but its link dir.
    expect(d.listDir('graph', 'storage', 'overlay').filter((f) => f !== 'l')).toEqual([]);
  });

  it('keeps images and tags across a daemon restart', async () => {
    const { tar } = await busyboxImage();
    scratchPaths.push('/tmp/ie2e-persist-graph');
    const d = track(await startDaemon({ args: ['-g', '/tmp/ie2e-persist-graph'] }));
    await ok(d, ['load', '-i', tar]);
    await ok(d, ['tag', 'busybox', 'kept:1']);
    await d.stop();
    const again = track(await startDaemon({ args: ['-g', '/tmp/ie2e-persist-graph'] }));
    const list = (await ok(again, ['images'])).stdout;
    expect(list).toMatch(/\nbusybox +latest /);
    expect(list).toMatch(/\nkept +1 /);
    await again.stop();
    require('node:fs').rmSync('/tmp/ie2e-persist-graph', { recursive: true, force: true });
  });

  it('loads a multi-layer image: whiteouts and opaque directories become overlay whiteouts', async () => {
    const d = track(await startDaemon());
    await ok(d, ['load', '-i', await layeredImage()]);
    const info = JSON.parse((await ok(d, ['inspect', 'layered'])).stdout) as [{ image: { top_layer: string; Spec: { config: { Labels: Record<string, string> } } } }];
    expect(info[0].image.Spec.config.Labels).toEqual({ suite: 'e2e' });
    const top = d.path('graph', 'storage', 'overlay', info[0].image.top_layer, 'diff');
    const { statSync } = await import('node:fs');
    const wh = statSync(`${top}/gone.txt`);
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(readdirSync(`${top}/dir`)).toEqual(['new.txt']);
    expect((await ok(d, ['images', '-f', 'label=suite=e2e'])).stdout).toContain('layered');
    expect((await ok(d, ['images', '-f', 'label=suite=other'])).stdout.split('\n').filter(Boolean)).toHaveLength(1);
  });

  for (const kind of ['dotdot', 'symlink-escape', 'hardlink-escape'] as const) {
    it(`a hostile layer (${kind}) writes nothing outside the store`, async () => {
      const sentinelDir = `/tmp/ie2e-sentinel-${process.pid}-${kind}`;
      scratchPaths.push(sentinelDir);
      require('node:fs').mkdirSync(sentinelDir, { recursive: true });
      writeFileSync(`${sentinelDir}/victim`, 'untouched');
      const d = track(await startDaemon());
      const r = await d.isula(['load', '-i', await hostileImage(kind, `${sentinelDir}/victim`)]);
      if (kind === 'symlink-escape') {
        // An absolute symlink resolves inside the layer, as a chroot would: the write stays in the store.
        expect(r.code, r.stderr).toBe(0);
      } else {
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^Error response from daemon: .*(escapes|outside|refused|unsafe)/i);
        expect((await ok(d, ['images', '-q'])).stdout).toBe('');
      }
      expect(readFileSync(`${sentinelDir}/victim`, 'utf8')).toBe('untouched');
      expect(readdirSync(sentinelDir)).toEqual(['victim']);
      require('node:fs').rmSync(sentinelDir, { recursive: true, force: true });
    });
  }

  it('loads an OCI image layout archive, named with --tag', async () => {
    const { oci } = await busyboxImage();
    const d = track(await startDaemon());
    const archive = `/tmp/ie2e-oci-${process.pid}.tar`;
    scratchPaths.push(archive);
    await run('tar', ['-C', oci, '-cf', archive, '.']);
    await ok(d, ['load', '-i', archive, '--tag', 'ocibox:v2']);
    expect((await ok(d, ['images'])).stdout).toMatch(/\nocibox +v2 /);
    require('node:fs').rmSync(archive, { force: true });
  });

  it('--image-layer-check finds a damaged layer at start and says which image is unusable', async () => {
    const { tar } = await busyboxImage();
    const graph = `/tmp/ie2e-layercheck-${process.pid}`;
    scratchPaths.push(graph);
    const d = track(await startDaemon({ args: ['-g', graph] }));
    await ok(d, ['load', '-i', tar]);
    const top = (await ok(d, ['inspect', '-f', '{{.image.top_layer}}', 'busybox'])).stdout.trim();
    await d.stop();
    // Damage one regular file of the layer, keeping its size.
    writeFileSync(`${graph}/storage/overlay/${top}/diff/etc/passwd`, readFileSync(`${graph}/storage/overlay/${top}/diff/etc/passwd`, 'utf8').replace(/root/g, 'r00t'));
    const logOpts = ['--log-opt', 'log-path={dir}', '--log-driver', 'file'];
    const unchecked = track(await startDaemon({ args: ['-g', graph, ...logOpts] }));
    await unchecked.stop();
    expect(readFileSync(unchecked.path('isulad.log'), 'utf8')).not.toContain('damaged layer');
    const checked = track(await startDaemon({ args: ['-g', graph, '--image-layer-check', ...logOpts] }));
    await checked.stop();
    expect(readFileSync(checked.path('isulad.log'), 'utf8')).toContain('image busybox:latest has a damaged layer and is unusable');
    require('node:fs').rmSync(graph, { recursive: true, force: true });
  });

  it('imports a rootfs tarball as a one-layer image', async () => {
    const d = track(await startDaemon());
    const tarFile = `/tmp/ie2e-rootfs-${process.pid}.tar`;
    scratchPaths.push(tarFile);
    await run('tar', ['-C', '/usr/share/doc/tar', '-cf', tarFile, '.']);
    const r = await ok(d, ['import', tarFile, 'imported:v1']);
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect((await ok(d, ['images'])).stdout).toMatch(/\nimported +v1 /);
    require('node:fs').rmSync(tarFile, { force: true });
  });
});

describe('pull', () => {
  it('pulls from a plain http registry listed in insecure-registries, with upstream messages', async () => {
    const { oci } = await busyboxImage();
    const d = track(await startDaemon({ daemonJson: { 'insecure-registries': ['127.0.0.1:5000'] } }));
    const reg = await startRegistry(d, { port: 5000 });
    registries.push(reg);
    const push = await reg.skopeo(['copy', '--dest-tls-verify=false', `oci:${oci}:latest`, `docker://${reg.host}/busybox:latest`]);
    expect(push.code, push.stderr).toBe(0);
    const r = await d.isula(['pull', `${reg.host}/busybox:latest`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.startsWith(`Image "${reg.host}/busybox:latest" pulling\n`)).toBe(true);
    expect(r.stderr.endsWith(`Image "${reg.host}/busybox:latest" pulled\n`)).toBe(true);
    expect((await ok(d, ['images'])).stdout).toContain(`${reg.host}/busybox`);
    // The image id is the config digest, the same as a load of the same image gives.
    const id = (await ok(d, ['inspect', '-f', '{{.image.id}}', `${reg.host}/busybox:latest`])).stdout.trim();
    const cfg = JSON.parse(readFileSync(`${oci}/index.json`, 'utf8')).manifests[0].digest.slice(7);
    const manifest = JSON.parse(readFileSync(`${oci}/blobs/sha256/${cfg}`, 'utf8'));
    expect(id).toBe(manifest.config.digest.slice(7));
    expect(readdirSync(d.path('graph', 'isulad_tmpdir'))).toEqual([]);
  });

  it('pulls a multi-layer image with whiteouts: layers extracted side by side, stacked in order', async () => {
    const d = track(await startDaemon({ daemonJson: { 'insecure-registries': ['127.0.0.1:5000'] } }));
    const reg = await startRegistry(d, { port: 5000 });
    registries.push(reg);
    const push = await reg.skopeo(['copy', '--dest-tls-verify=false', `docker-archive:${await layeredImage()}`, `docker://${reg.host}/layered:latest`]);
    expect(push.code, push.stderr).toBe(0);
    const r = await d.isula(['pull', `${reg.host}/layered:latest`]);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse((await ok(d, ['inspect', `${reg.host}/layered`])).stdout) as [{ image: { top_layer: string } }];
    const top = d.path('graph', 'storage', 'overlay', info[0].image.top_layer);
    const { statSync } = await import('node:fs');
    // The top layer sits on its parent (a `lower` chain of one), and its whiteouts are overlay ones.
    expect(readFileSync(`${top}/lower`, 'utf8')).toMatch(/^l\/[A-Z0-9]{26}$/);
    expect(existsSync(`${top}/empty`)).toBe(false);
    expect(statSync(`${top}/diff/gone.txt`).isCharacterDevice()).toBe(true);
    expect(readdirSync(`${top}/diff/dir`)).toEqual(['new.txt']);
  });

  it('pulls an OCI-format image too', async () => {
    const { oci } = await busyboxImage();
    const d = track(await startDaemon({ daemonJson: { 'insecure-registries': ['127.0.0.1:5000'] } }));
    const reg = await startRegistry(d, { port: 5000 });
    registries.push(reg);
    expect((await reg.skopeo(['copy', '--dest-tls-verify=false', '--format', 'oci', `oci:${oci}:latest`, `docker://${reg.host}/busybox:oci`])).code).toBe(0);
    const r = await d.isula(['pull', `${reg.host}/busybox:oci`]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('selects linux/amd64 from a manifest list (docker) and from an OCI index', async () => {
    const { layout, amd64Config, arm64Config } = await multiArchLayout();
    const d = track(await startDaemon({ daemonJson: { 'insecure-registries': ['127.0.0.1:5000'] } }));
    const reg = await startRegistry(d, { port: 5000 });
    registries.push(reg);
    const v2 = await reg.skopeo(['copy', '--all', '--dest-tls-verify=false', '--format', 'v2s2', `oci:${layout}:multi`, `docker://${reg.host}/multi:list`]);
    expect(v2.code, v2.stderr).toBe(0);
    const oci = await reg.skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${layout}:multi`, `docker://${reg.host}/multi:index`]);
    expect(oci.code, oci.stderr).toBe(0);
    for (const tag of ['list', 'index']) {
      const r = await d.isula(['pull', `${reg.host}/multi:${tag}`]);
      expect(r.code, r.stderr).toBe(0);
      const id = (await ok(d, ['inspect', '-f', '{{.image.id}}', `${reg.host}/multi:${tag}`])).stdout.trim();
      expect(id).toBe(amd64Config);
      expect(id).not.toBe(arm64Config);
    }
    require('node:fs').rmSync(layout, { recursive: true, force: true });
  });

  it('a plain http registry not listed as insecure fails clearly, exit 125', async () => {
    const { oci } = await busyboxImage();
    const d = track(await startDaemon());
    const reg = await startRegistry(d, { port: 5000 });
    registries.push(reg);
    await reg.skopeo(['copy', '--dest-tls-verify=false', `oci:${oci}:latest`, `docker://${reg.host}/busybox:latest`]);
    const r = await d.isula(['pull', `${reg.host}/busybox:latest`]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/Error response from daemon: .+/);
  });

  it('TLS + htpasswd: no CA fails, wrong password fails, login then pull works', async () => {
    const { oci } = await busyboxImage();
    const d = track(await startDaemon());
    const reg = await startRegistry(d, { port: 5443, tls: true, user: 'tester', password: 's3cret-pw' });
    registries.push(reg);
    const push = await reg.skopeo(['copy', '--dest-tls-verify=false', '{creds}', `oci:${oci}:latest`, `docker://${reg.host}/busybox:latest`]);
    expect(push.code, push.stderr).toBe(0);
    const noCa = await d.isula(['pull', `${reg.host}/busybox:latest`]);
    expect(noCa.code).toBe(125);
    expect(noCa.stderr).toMatch(/certificate|x509|self.signed|issuer/i);
    // Trust the CA the way iSulad reads it: /etc/isulad/certs.d/<host:port>/ca.crt
    const { mkdirSync, copyFileSync } = await import('node:fs');
    mkdirSync(d.path('etc-isulad', 'certs.d', reg.host), { recursive: true });
    copyFileSync(`${reg.dir}/ca.crt`, d.path('etc-isulad', 'certs.d', reg.host, 'ca.crt'));
    const anon = await d.isula(['pull', `${reg.host}/busybox:latest`]);
    expect(anon.code).toBe(125);
    expect(anon.stderr).toMatch(/unauthorized|authentication required/i);
    const wrong = await d.isula(['login', '-u', 'tester', '-p', 'nope', reg.host]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/unauthorized|authentication/i);
    const login = await d.isula(['login', '-u', 'tester', '--password-stdin', reg.host], { input: 's3cret-pw\n' });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toBe('Login Succeeded\n');
    const pulled = await d.isula(['pull', `${reg.host}/busybox:latest`]);
    expect(pulled.code, pulled.stderr).toBe(0);
    // The password is stored encrypted and appears in no log.
    const auths = readFileSync(d.path('graph', 'auths', 'auths.json'), 'utf8');
    expect(auths).not.toContain('s3cret-pw');
    const logout = await ok(d, ['logout', reg.host]);
    expect(logout.stdout).toBe('Logout Succeeded\n');
    expect(readFileSync(d.path('graph', 'auths', 'auths.json'), 'utf8')).not.toContain(reg.host);
  });

  it('kill -9 during a pull leaves no half image, no orphan layer and no temp file after restart', async () => {
    const big = `/tmp/ie2e-big-${process.pid}`;
    scratchPaths.push(big);
    // A 3-layer image of incompressible data, big enough to still be pulling when killed.
    const mk = await run('bash', ['-c', `set -e; rm -rf ${big}; mkdir -p ${big}/r1 ${big}/r2 ${big}/r3; head -c 60M /dev/urandom > ${big}/r1/a; head -c 60M /dev/urandom > ${big}/r2/b; head -c 60M /dev/urandom > ${big}/r3/c
      cd ${big}; for i in 1 2 3; do tar -C r$i -cf l$i.tar .; done
      python3 - <<'PY'
import hashlib, json, os
d = "${big}"
ids = ["sha256:" + hashlib.sha256(open(f"{d}/l{i}.tar","rb").read()).hexdigest() for i in (1,2,3)]
cfg = json.dumps({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":ids}}).encode()
h = hashlib.sha256(cfg).hexdigest()
os.makedirs(f"{d}/arch", exist_ok=True)
open(f"{d}/arch/{h}.json","wb").write(cfg)
for i in (1,2,3):
    os.makedirs(f"{d}/arch/l{i}", exist_ok=True); os.replace(f"{d}/l{i}.tar", f"{d}/arch/l{i}/layer.tar")
json.dump([{"Config":f"{h}.json","RepoTags":["big:latest"],"Layers":[f"l{i}/layer.tar" for i in (1,2,3)]}], open(f"{d}/arch/manifest.json","w"))
PY
      tar -C arch -cf big.tar .`], { timeoutMs: 120_000 });
    expect(mk.code, mk.stderr).toBe(0);
    const graph = `/tmp/ie2e-kill9-graph-${process.pid}`;
    scratchPaths.push(graph);
    const d = track(await startDaemon({ args: ['-g', graph], daemonJson: { 'insecure-registries': ['127.0.0.1:5000'] } }));
    const reg = await startRegistry(d, { port: 5000 });
    registries.push(reg);
    expect((await reg.skopeo(['copy', '--dest-tls-verify=false', `docker-archive:${big}/big.tar`, `docker://${reg.host}/big:latest`])).code).toBe(0);
    const pulling = d.isula(['pull', `${reg.host}/big:latest`]);
    // Kill while layers are being extracted (their directories are still `tmp-…`).
    const extracting = () => (existsSync(`${graph}/storage/overlay`) && readdirSync(`${graph}/storage/overlay`).some((f) => f.startsWith('tmp-')) ? true : undefined);
    await waitFor('a layer being extracted', extracting, 20_000, 10);
    d.signal('SIGKILL');
    await pulling;
    await d.exited;
    const again = track(await startDaemon({ args: ['-g', graph] }));
    expect((await ok(again, ['images', '-q'])).stdout).toBe('');
    expect(readdirSync(`${graph}/isulad_tmpdir`)).toEqual([]);
    const left = existsSync(`${graph}/storage/overlay`) ? readdirSync(`${graph}/storage/overlay`).filter((f) => f !== 'l') : [];
    expect(left).toEqual([]);
    await again.stop();
    require('node:fs').rmSync(graph, { recursive: true, force: true });
    require('node:fs').rmSync(big, { recursive: true, force: true });
  });
});
