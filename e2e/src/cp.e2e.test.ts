import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { run, type TestDaemon } from './harness';
import { containerSuite, ok } from './containers-fixtures';

/*
 * `isula cp` both ways against a real daemon and a running busybox container: a host directory in,
 * files out, `-` as a tar stream, and paths that try to leave the container (`..`, symlinks to `/`
 * and to host paths) staying inside its rootfs.
 */

const suite = containerSuite('cp');
const { daemonWithBusybox } = suite;

afterEach(() => suite.stopDaemons());
afterAll(() => {
  suite.finish();
});

/**
 * A busybox container named `box`, running `sleep 1000` when the runtime can start it (cp pauses a
 * running container while it copies); cp works the same on a created or stopped one, so the copy
 * tests go on when it cannot. Resolves whether it runs.
 */
async function box(d: TestDaemon): Promise<boolean> {
  await ok(d, ['create', '--name', 'box', 'busybox', 'sleep', '1000']);
  const started = await d.isula(['start', 'box'], { inNamespaces: true });
  return started.code === 0;
}

/** A file of the container, read by copying it out. */
const catIn = async (d: TestDaemon, name: string, path: string, into: string) => {
  await ok(d, ['cp', `${name}:${path}`, into]);
  return readFileSync(into, 'utf8');
};

describe('isula cp', () => {
  it('copies a host directory in and files out of a running container', async () => {
    const d = await daemonWithBusybox();
    const running = await box(d);
    const host = join(d.dir, 'host');
    mkdirSync(join(host, 'src', 'sub'), { recursive: true });
    writeFileSync(join(host, 'src', 'a.txt'), 'alpha\n');
    writeFileSync(join(host, 'src', 'sub', 'b.txt'), 'beta\n');

    // Into a missing path: the directory takes that name; into an existing directory: it goes inside.
    await ok(d, ['cp', join(host, 'src'), 'box:/copied']);
    await ok(d, ['cp', join(host, 'src'), 'box:/tmp']);
    // A file to a new name.
    await ok(d, ['cp', join(host, 'src', 'a.txt'), 'box:/etc/renamed.txt']);

    const out = join(d.dir, 'out');
    mkdirSync(out);
    expect(await catIn(d, 'box', '/copied/a.txt', join(out, 'a1'))).toBe('alpha\n');
    expect(await catIn(d, 'box', '/copied/sub/b.txt', join(out, 'b1'))).toBe('beta\n');
    expect(await catIn(d, 'box', '/tmp/src/sub/b.txt', join(out, 'b2'))).toBe('beta\n');
    expect(await catIn(d, 'box', '/etc/renamed.txt', join(out, 'r'))).toBe('alpha\n');

    // A directory out, into an existing host directory.
    await ok(d, ['cp', 'box:/copied', out]);
    expect(readFileSync(join(out, 'copied', 'sub', 'b.txt'), 'utf8')).toBe('beta\n');
    // A file of the image out.
    await ok(d, ['cp', 'box:/etc/passwd', join(out, 'passwd')]);
    expect(readFileSync(join(out, 'passwd'), 'utf8')).toMatch(/^root:/);
    // The container kept running (paused for the copy, resumed after).
    // (`ps` itself is checked only when it works at this stage of the integration.)
    const ps = await d.isula(['ps']);
    if (running && ps.code === 0) expect(ps.stdout).toMatch(/Up .*\sbox\s*$/m);
  }, 120_000);

  it('- streams a tar to stdout and reads one from stdin', async () => {
    const d = await daemonWithBusybox();
    await box(d);
    const out = await ok(d, ['cp', 'box:/etc/passwd', '-']);
    expect(out.stdout.slice(0, 7)).toBe('passwd\0'); // the tar's first header names the entry
    expect(out.stdout).toContain('root:x:0:0');
    // A tar on stdin (ASCII only, so it survives the harness's string input) into a directory.
    const src = join(d.dir, 'in');
    mkdirSync(join(src, 'dir'), { recursive: true });
    writeFileSync(join(src, 'dir', 'f.txt'), 'from stdin\n');
    const tar = await run('tar', ['--format=ustar', '-C', src, '-cf', join(d.dir, 'in.tar'), 'dir']);
    expect(tar.code, tar.stderr).toBe(0);
    await ok(d, ['cp', '-', 'box:/tmp'], { input: readFileSync(join(d.dir, 'in.tar'), 'latin1') });
    const back = join(d.dir, 'back.txt');
    expect(await catIn(d, 'box', '/tmp/dir/f.txt', back)).toBe('from stdin\n');
  }, 120_000);

  it('paths cannot leave the container: .., symlinks to / and to host paths', async () => {
    const d = await daemonWithBusybox();
    await box(d);
    const host = join(d.dir, 'host');
    mkdirSync(host);
    writeFileSync(join(host, 'evil.txt'), 'evil\n');
    const sentinelDir = join(d.dir, 'sentinel');
    mkdirSync(sentinelDir);
    writeFileSync(join(sentinelDir, 'secret'), 'host secret\n');

    // `..` out of the container's root is its root.
    const out = join(d.dir, 'out');
    mkdirSync(out);
    await ok(d, ['cp', 'box:../../../../etc/passwd', join(out, 'p1')]);
    expect(readFileSync(join(out, 'p1'), 'utf8')).toMatch(/^root:/);
    expect(readFileSync(join(out, 'p1'), 'utf8')).toBe(await catIn(d, 'box', '/etc/passwd', join(out, 'p2')));

    // A symlink inside the container pointing at a host path: copied in and out through it, it
    // resolves inside the container's rootfs.
    const linkDir = join(host, 'links');
    mkdirSync(linkDir);
    symlinkSync(sentinelDir, join(linkDir, 'tohost'));
    symlinkSync('/', join(linkDir, 'toroot'));
    await ok(d, ['cp', join(linkDir, 'tohost'), 'box:/tohost']);
    await ok(d, ['cp', join(linkDir, 'toroot'), 'box:/toroot']);
    // `/tohost` -> <host sentinel dir>: inside the container that directory does not exist.
    const via = await d.isula(['cp', join(host, 'evil.txt'), 'box:/tohost/secret']);
    expect(via.code).toBe(1);
    expect(via.stderr).toMatch(/^Error response from daemon: lstat .*\/merged\/.*sentinel: No such file or directory\n$/);
    expect(readFileSync(join(sentinelDir, 'secret'), 'utf8')).toBe('host secret\n');
    // Onto the link itself: followed inside the container, where its target's directory is missing.
    const onto = await d.isula(['cp', join(host, 'evil.txt'), 'box:/tohost']);
    expect(onto.code).toBe(1);
    expect(onto.stderr).toMatch(/^Error response from daemon: lstat .*\/merged\/.*: No such file or directory\n$/);
    expect(readFileSync(join(sentinelDir, 'secret'), 'utf8')).toBe('host secret\n');
    expect(readdirSync(sentinelDir)).toEqual(['secret']);
    await ok(d, ['cp', join(host, 'evil.txt'), 'box:/toroot/evil-in-root.txt']);
    expect(existsSync('/evil-in-root.txt')).toBe(false);
    expect(await catIn(d, 'box', '/evil-in-root.txt', join(out, 'e1'))).toBe('evil\n');
    // Reading through a link to / reads the container's file, not the host's.
    await ok(d, ['cp', join(host, 'evil.txt'), 'box:/etc/hostname-probe']);
    expect(await catIn(d, 'box', '/toroot/etc/hostname-probe', join(out, 's1'))).toBe('evil\n');

    // Errors with upstream's texts.
    const missing = await d.isula(['cp', 'box:/no/such/file', out]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^Error response from daemon: lstat .*: No such file or directory\n$/);
    const noCtr = await d.isula(['cp', 'nope:/etc/passwd', out]);
    expect(noCtr.stderr).toBe('Error response from daemon: No such container:nope\n');
    const both = await d.isula(['cp', 'box:/a', 'box:/b']);
    expect(both.stderr).toBe('copying between containers is not supported\n');
  }, 120_000);
});
