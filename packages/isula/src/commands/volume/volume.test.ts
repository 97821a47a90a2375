import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { Cli, type CommandClass } from 'clipanion';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import LsCommand from './ls';
import PruneCommand, { PRUNE_WARNING, readLine } from './prune';
import RmCommand from './rm';

// clipanion's ESM build imports a directory, which Node's ESM loader (used by vitest) refuses: the
// tests load its CommonJS build instead.
vi.mock('clipanion', () => createRequire(join(process.cwd(), 'package.json'))('clipanion'));

const daemon = vi.hoisted(() => ({ volumes: [] as { driver: string; name: string }[], removed: [] as string[], pruned: [] as string[], prunes: 0 }));

vi.mock('@isula/client', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@isula/client')>();
  return {
    ...actual,
    IsulaClient: class {
      close() {}
    },
    listVolumes: async () => daemon.volumes,
    removeVolume: async (_c: unknown, name: string) => {
      if (name === 'busy') throw new actual.DaemonError(5, 'remove volume busy failed: volume is used by container abc');
      daemon.removed.push(name);
    },
    pruneVolumes: async () => (daemon.prunes++, daemon.pruned),
  };
});

function sink() {
  let text = '';
  const stream = new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) });
  return { stream, text: () => text };
}

async function run(command: unknown, argv: string[]) {
  const out = sink();
  const err = sink();
  const cli = new Cli({ binaryName: 'isula', enableColors: false });
  cli.register(command as CommandClass);
  const code = await cli.run(argv, { stdin: process.stdin, stdout: out.stream, stderr: err.stream, colorDepth: 1 } as never);
  return { code, stdout: out.text(), stderr: err.text() };
}

beforeEach(() => {
  daemon.volumes = [];
  daemon.removed = [];
  daemon.pruned = [];
  daemon.prunes = 0;
});

describe('isula volume', () => {
  it('ls prints the driver column 20 wide, -q names only', async () => {
    daemon.volumes = [{ driver: 'local', name: 'a' }, { driver: 'local', name: 'b'.repeat(64) }];
    expect(await run(LsCommand, ['volume', 'ls'])).toEqual({
      code: 0,
      stdout: `DRIVER              VOLUME NAME\nlocal               a\nlocal               ${'b'.repeat(64)}\n`,
      stderr: '',
    });
    expect((await run(LsCommand, ['volume', 'ls', '-q'])).stdout).toBe(`a\n${'b'.repeat(64)}\n`);
    expect(await run(LsCommand, ['volume', 'ls', 'x'])).toMatchObject({ code: 1, stderr: 'isula: "volume ls" requires 0 arguments.\n' });
  });

  it('rm prints removed names, reports failures, exit 1 if any failed', async () => {
    expect(await run(RmCommand, ['volume', 'rm', 'v1', 'busy', 'v2'])).toEqual({
      code: 1,
      stdout: 'v1\nv2\n',
      stderr: 'Error response from daemon: remove volume busy failed: volume is used by container abc\n',
    });
    expect(await run(RmCommand, ['volume', 'rm', 'v3'])).toMatchObject({ code: 0, stdout: 'v3\n' });
    expect(await run(RmCommand, ['volume', 'rm'])).toMatchObject({ code: 1, stderr: 'isula: "volume rm" requires at least 1 argument.\n' });
  });

  it('prune -f lists what was deleted', async () => {
    daemon.pruned = ['x', 'y'];
    expect(await run(PruneCommand, ['volume', 'prune', '-f'])).toEqual({ code: 0, stdout: 'Deleted Volumes:\nx\ny\n', stderr: '' });
    daemon.pruned = [];
    expect(await run(PruneCommand, ['volume', 'prune', '--force'])).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('prune asks first and stops unless the answer is y/yes', async () => {
    daemon.pruned = ['x'];
    for (const [answer, expected] of [['n\n', 0], ['\n', 0], ['', 0], ['y\n', 1], ['YES\r\n', 2]] as const) {
      const input = new PassThrough();
      input.end(answer);
      PruneCommand.stdin = input;
      const r = await run(PruneCommand, ['volume', 'prune']);
      expect(r.code).toBe(0);
      expect(r.stdout.startsWith(PRUNE_WARNING)).toBe(true);
      expect(daemon.prunes).toBe(expected);
    }
    PruneCommand.stdin = undefined;
  });

  it('readLine stops at the first end of line', async () => {
    const input = new PassThrough();
    const line = readLine(input);
    input.write('ye');
    input.write('s\nmore\n');
    expect(await line).toBe('yes');
  });
});
