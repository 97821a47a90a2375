// reopenLog() and the kubernetes log driver through launchMonitor(), against the real monitor binary
// (packages/monitor, `make -C packages/monitor`) and a fake OCI runtime: a shell script whose `run`
// starts `cat` on the container's stdio. No root needed: the monitor only needs to be a subreaper.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Socket } from 'node:net';
import { connectAttach, frame, Frame, launchMonitor, monitorArgs, reopenLog, watchExit, type MonitorLaunch } from './monitor';

const MONITOR = path.resolve(__dirname, '../../../monitor/build/isula-monitor');
const haveMonitor = fs.existsSync(MONITOR);

// `<runtime> --log F --log-format json --root DIR run --bundle B --pid-file P --detach ID`: cat in the
// background, stdin kept (an asynchronous list would get /dev/null), its pid in the pid file.
const FAKE_RUNTIME = `#!/bin/sh
verb=
while [ $# -gt 0 ]; do
  case "$1" in
    --log|--log-format|--root|--bundle) shift 2 ;;
    --pid-file) pidfile=$2; shift 2 ;;
    run|create|start|delete|kill|state) [ -z "$verb" ] && verb=$1; shift ;;
    *) shift ;;
  esac
done
[ "$verb" = run ] || exit 0
exec 3<&0
cat <&3 3<&- &
echo $! > "$pidfile"
`;

let base = '';
let runtime = '';
let seq = 0;
const containers: number[] = [];

function launch(stateDir: string, log: MonitorLaunch['log']): MonitorLaunch {
  return {
    id: `reopen-${++seq}`,
    bundle: stateDir,
    stateDir,
    runtime: { name: 'fake', path: runtime, args: [] },
    terminal: false,
    stdin: true,
    start: true,
    holdOutput: false,
    skipDelete: true,
    log,
    timeoutMs: 10_000,
  };
}

function k8sLog(p: string): MonitorLaunch['log'] {
  return { driver: 'kubernetes', path: p, maxSize: 0, maxFile: 1, disabled: false };
}

async function waitFor(pred: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 4_000;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function contents(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) ([FP]) (.*)$/.exec(l);
      if (!m) throw new Error(`not a CRI log record: ${l}`);
      return `${m[1]} ${m[2]} ${m[3]}`;
    });
}

async function started(stateDir: string, log: MonitorLaunch['log']): Promise<Socket> {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const { pid } = await launchMonitor(launch(stateDir, log));
  containers.push(pid);
  return connectAttach(stateDir);
}

describe('monitorArgs: the kubernetes log driver', () => {
  const base: MonitorLaunch = {
    id: 'c',
    bundle: '/b',
    stateDir: '/s',
    runtime: { name: 'runc', path: '/usr/bin/runc', args: [] },
    terminal: false,
    stdin: false,
    start: false,
    holdOutput: false,
    skipDelete: false,
    log: k8sLog('/var/log/pods/ns_pod_uid/ctr/0.log'),
    timeoutMs: 0,
  };

  it('passes the CRI log path and no rotation options', () => {
    const args = monitorArgs(base);
    expect(args.slice(args.indexOf('--log-driver'))).toEqual(['--log-driver', 'kubernetes', '--log-path', '/var/log/pods/ns_pod_uid/ctr/0.log']);
  });

  it('means no log without a path, or when disabled', () => {
    for (const log of [k8sLog(''), { ...k8sLog('/x.log'), disabled: true }]) {
      const args = monitorArgs({ ...base, log });
      expect(args.slice(args.indexOf('--log-driver'))).toEqual(['--log-driver', 'none']);
    }
  });
});

describe.skipIf(!haveMonitor)('reopenLog with the real monitor', () => {
  beforeAll(() => {
    process.env.ISULAD_MONITOR = MONITOR;
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'isulad-reopen-test-'));
    runtime = path.join(base, 'fake-runtime');
    fs.writeFileSync(runtime, FAKE_RUNTIME, { mode: 0o755 });
  });

  afterEach(() => {
    for (const pid of containers.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* exited */
      }
    }
  });

  afterAll(() => {
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  it('writes CRI records and moves to a new file at the same path after a rename', async () => {
    const state = path.join(base, 'ok', 'state');
    const log = path.join(base, 'ok', 'pods', 'ctr', '0.log');
    const mon = await started(state, k8sLog(log));
    mon.write(frame(Frame.STDIN, Buffer.from('one\n')));
    await waitFor(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes(' one\n'), 'the first record');
    fs.renameSync(log, `${log}.20260101-000000`);
    await reopenLog(state);
    expect(fs.existsSync(log)).toBe(true);
    mon.write(frame(Frame.STDIN, Buffer.from('two\npart')));
    mon.write(frame(Frame.STDIN));
    const exit = await watchExit(state);
    expect(exit.code).toBe(0);
    mon.destroy();
    expect(contents(`${log}.20260101-000000`)).toEqual(['stdout F one']);
    expect(contents(log)).toEqual(['stdout F two', 'stdout P part']);
    // the monitor is gone: the container is not running
    await expect(reopenLog(state)).rejects.toThrow(/monitor is not running/);
  });

  it("rejects with the monitor's error when the path cannot be opened", async () => {
    const state = path.join(base, 'bad', 'state');
    const dir = path.join(base, 'bad', 'pod');
    const log = path.join(dir, '0.log');
    const mon = await started(state, k8sLog(log));
    await waitFor(() => fs.existsSync(log), 'the log file');
    fs.renameSync(dir, `${dir}.gone`);
    fs.writeFileSync(dir, '');
    await expect(reopenLog(state)).rejects.toThrow(`reopen log ${log}: Not a directory`);
    // the old file is still written
    mon.write(frame(Frame.STDIN, Buffer.from('still\n')));
    mon.write(frame(Frame.STDIN));
    await watchExit(state);
    mon.destroy();
    expect(contents(path.join(`${dir}.gone`, '0.log'))).toEqual(['stdout F still']);
  });
});
