/**
 * Stream plumbing end to end, over the local socket and over tcp: 100 MB through `exec` in both
 * directions with the daemon's memory bounded (flow control, no whole-stream buffering), a slow
 * reader that blocks the producer in the container, a client killed mid-attach, exit codes, and
 * `run -it` / `attach` / `exec -it` driven through a real pseudo-terminal (util-linux `script`).
 *
 * Each transport gets one daemon (with `-H tcp://127.0.0.1:<port>` added for tcp; the port lives in
 * the daemon's own network namespace) and one long-running container `cx`. The client under test
 * always runs in the daemon's namespaces with `-H <transport host>`; setup and checks go through the
 * unix socket (`ok`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ISULA, run, sleep, waitFor, type RunResult, type TestDaemon } from './harness';
import { containerSuite, ok } from './containers-fixtures';

const suite = containerSuite('streams');

const BIG = 100 * 1024 * 1024;
/** Peak daemon RSS growth allowed during a 100 MB transfer: whole-stream buffering cannot fit. */
const RSS_BOUND_KIB = 64 * 1024;

const spawned: Client[] = [];
afterEach(() => {
  for (const c of spawned.splice(0)) c.kill('SIGKILL');
});

// One host file of 100 MB of random (non-repeating) data, shared by both transports.
let scratch = '';
let bigFile = '';
let bigSha = '';
beforeAll(() => {
  scratch = mkdtempSync('/tmp/ie2e-streams-');
  bigFile = join(scratch, 'big');
  const fd = openSync(bigFile, 'w');
  const hash = createHash('sha256');
  try {
    for (let written = 0; written < BIG; written += 1 << 20) {
      const chunk = randomBytes(1 << 20);
      hash.update(chunk);
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
  bigSha = hash.digest('hex');
});
afterAll(async () => {
  await suite.stopDaemons();
  suite.finish();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The argv of `isula <args>` against `host`, run in `d`'s namespaces (where its FIFOs and ports are). */
function clientArgv(d: TestDaemon, host: string, args: string[]): string[] {
  const pid = d.pid();
  if (pid === undefined) throw new Error('daemon is not running');
  const [cmd, ...rest] = args;
  return ['nsenter', '-t', String(pid), '-m', '-n', '-u', '-p', 'node', '--', ISULA, cmd!, '-H', host, ...rest];
}

/** `isula <args>` over `host` to completion (stdin empty). */
function runClient(d: TestDaemon, host: string, args: string[], input?: string): Promise<RunResult> {
  const [cmd, ...rest] = clientArgv(d, host, args);
  return run(cmd!, rest, { timeoutMs: 30_000, input });
}

/** A client left running, in a process group of its own (nsenter forks the isula client). */
interface Client {
  child: ChildProcess;
  /** stdout (unless consumed by the test) and stderr, interleaved. */
  out(): string;
  err(): string;
  /** The exit code once exited (null: killed by a signal); undefined while running. */
  code(): number | null | undefined;
  exited: Promise<number | null>;
  kill(sig: NodeJS.Signals): void;
}

/**
 * Spawns `argv`. stdin: 'pipe' (kept open), 'ignore', or an fd to read from. stdout 'collect' keeps
 * it as text; 'manual' leaves the stream to the test (paused until it reads).
 */
function start(argv: string[], opts: { stdin?: 'pipe' | 'ignore' | number; stdout?: 'collect' | 'manual' } = {}): Client {
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, { stdio: [opts.stdin ?? 'pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  let code: number | null | undefined;
  if ((opts.stdout ?? 'collect') === 'collect') child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => {
    out += b.toString();
    err += b.toString();
  });
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number | null>((r) =>
    child.on('close', (c) => {
      code = c;
      r(c);
    }),
  );
  const c: Client = {
    child,
    out: () => out,
    err: () => err,
    code: () => code,
    exited,
    kill: (sig) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* gone */
      }
    },
  };
  spawned.push(c);
  return c;
}

/** `isula <args>` on a real pty (util-linux script) sized 30x100, keystrokes through stdin. */
const startOnPty = (d: TestDaemon, host: string, args: string[]) =>
  start(['script', '-qefc', `stty rows 30 cols 100; exec ${clientArgv(d, host, args).map(q).join(' ')}`, '/dev/null']);

/** Waits for `text` in the client's output; fails at once if the client exits without printing it. */
const seen = (c: Client, text: string | RegExp, timeoutMs = 15_000) =>
  waitFor(
    `output ${String(text)} in ${JSON.stringify(c.out())}`,
    () => {
      if (typeof text === 'string' ? c.out().includes(text) : text.test(c.out())) return true;
      if (c.code() !== undefined) throw new Error(`client exited (${String(c.code())}) before printing ${String(text)}: ${JSON.stringify(c.out())}`);
      return undefined;
    },
    timeoutMs,
  );

/** The exit code, or 'timeout'. */
const exitWithin = (c: Client, ms: number) => Promise.race([c.exited, sleep(ms).then(() => 'timeout' as const)]);

const status = async (d: TestDaemon, name: string) => (await ok(d, ['inspect', '-f', '{{.State.Status}}', name])).stdout.trim();

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Samples the process's RSS every 100 ms from now; `baseline` is the RSS at the start. */
function rssSampler(pid: number) {
  const baseline = rssKiB(pid);
  let peak = baseline;
  const probe = () => {
    try {
      peak = Math.max(peak, rssKiB(pid));
    } catch {
      /* exited */
    }
  };
  const timer = setInterval(probe, 100);
  return {
    baseline,
    /** Peak growth over the baseline so far, in KiB. */
    growth: () => {
      probe();
      return peak - baseline;
    },
    stop: () => {
      clearInterval(timer);
      probe();
      return peak - baseline;
    },
  };
}

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** The daemon's fds open on the client's FIFOs (/var/run/isula/<container>/…). */
function clientFifoFds(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.includes('/run/isula/')) out.push(target);
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/** All descendants of `pid` (from the kernel's children lists). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    let kids: number[] = [];
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      /* gone */
    }
    out.push(...kids);
    stack.push(...kids);
  }
  return out;
}

/** Resizes the pty the client under `script` runs on (TIOCSWINSZ: the foreground group gets SIGWINCH). */
async function resizePty(c: Client, rows: number, cols: number): Promise<void> {
  const isula = descendants(c.child.pid!).find((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(ISULA);
    } catch {
      return false;
    }
  });
  if (isula === undefined) throw new Error('no isula client under script');
  const r = await run('stty', ['-F', `/proc/${isula}/fd/0`, 'rows', String(rows), 'cols', String(cols)]);
  expect(r.code, r.stderr).toBe(0);
}

/** Setup-side exec runs in the daemon's namespaces too: the client's FIFOs must be where the daemon looks. */
const IN_NS = { inNamespaces: true };

const mib = (kib: number) => (kib / 1024).toFixed(1);

for (const [i, transport] of (['unix', 'tcp'] as const).entries()) {
  describe(`streams over ${transport}`, () => {
    const port = 23750 + i;
    let d: TestDaemon;
    let host = '';

    beforeAll(async () => {
      d = await suite.daemonWithBusybox(transport === 'tcp' ? { args: ['-H', `tcp://127.0.0.1:${port}`] } : {});
      host = transport === 'tcp' ? `tcp://127.0.0.1:${port}` : `unix://${d.sock}`;
      await ok(d, ['run', '-d', '--name', 'cx', 'busybox', 'sleep', '100000']);
    }, 180_000);

    it('100 MB in through exec -i and out through exec cat arrive complete and in order, with bounded daemon memory', async () => {
      const pid = d.pid()!;

      // In: the host file as the client's stdin, written to /big by the container, which first lets
      // it wait 2 s unread (without flow control the daemon would take in the whole stream meanwhile).
      const inRss = rssSampler(pid);
      const fd = openSync(bigFile, 'r');
      const t0 = Date.now();
      let w: Client;
      try {
        w = start(clientArgv(d, host, ['exec', '-i', 'cx', 'sh', '-c', 'sleep 2; cat > /big']), { stdin: fd });
      } finally {
        closeSync(fd);
      }
      const inCode = await exitWithin(w, 90_000);
      const inMs = Date.now() - t0;
      const inGrowth = inRss.stop();
      console.log(`[${transport}] 100 MB stdin -> exec (2 s unread first): ${inMs} ms, daemon RSS baseline ${mib(inRss.baseline)} MiB, peak growth ${mib(inGrowth)} MiB`);
      expect(inCode, w.err()).toBe(0);
      const inside = await ok(d, ['exec', 'cx', 'sh', '-c', 'wc -c < /big; sha256sum /big'], IN_NS);
      expect(inside.stdout.split(/\s+/).filter(Boolean)).toEqual([String(BIG), bigSha, '/big']);
      expect(inGrowth, 'daemon RSS growth (KiB) while 100 MB went in').toBeLessThan(RSS_BOUND_KIB);

      // Out: `cat /big` hashed as it streams (never held whole in the test either).
      const outRss = rssSampler(pid);
      const t1 = Date.now();
      const r = start(clientArgv(d, host, ['exec', 'cx', 'cat', '/big']), { stdin: 'ignore', stdout: 'manual' });
      const hash = createHash('sha256');
      let bytes = 0;
      r.child.stdout!.on('data', (b: Buffer) => {
        hash.update(b);
        bytes += b.length;
      });
      const outCode = await exitWithin(r, 90_000);
      const outMs = Date.now() - t1;
      const outGrowth = outRss.stop();
      console.log(`[${transport}] 100 MB exec cat -> stdout: ${outMs} ms, daemon RSS baseline ${mib(outRss.baseline)} MiB, peak growth ${mib(outGrowth)} MiB`);
      expect(outCode, r.err()).toBe(0);
      expect(bytes).toBe(BIG);
      expect(hash.digest('hex')).toBe(bigSha);
      expect(outGrowth, 'daemon RSS growth (KiB) while 100 MB came out').toBeLessThan(RSS_BOUND_KIB);
    }, 120_000);

    it('a slow reader blocks the producer in the container; the daemon does not grow', async () => {
      const pid = d.pid()!;
      await ok(d, ['exec', 'cx', 'rm', '-f', '/tmp/dd-done'], IN_NS);
      const rss = rssSampler(pid);
      const t0 = Date.now();
      const r = start(clientArgv(d, host, ['exec', 'cx', 'sh', '-c', 'dd if=/dev/zero bs=65536 count=1600 2>/dev/null; echo done >/tmp/dd-done']), {
        stdin: 'ignore',
        stdout: 'manual',
      });
      r.child.stdout!.pause();
      await sleep(4000);

      // The producer is alive and stuck: its 100 MB did not all go anywhere.
      const top = await ok(d, ['top', 'cx']);
      const notDone = await d.isula(['exec', 'cx', 'test', '!', '-e', '/tmp/dd-done'], IN_NS);
      const pausedGrowth = rss.growth();
      console.log(`[${transport}] slow reader: daemon RSS baseline ${mib(rss.baseline)} MiB, peak growth while paused ${mib(pausedGrowth)} MiB`);
      expect(r.code(), `the client finished while its reader was paused: ${r.err()}`).toBeUndefined();
      expect(top.stdout).toMatch(/dd if=\/dev\/zero/);
      expect(notDone.code, 'the producer finished although nobody read its output').toBe(0);
      expect(pausedGrowth, 'daemon RSS growth (KiB) while the reader was paused').toBeLessThan(RSS_BOUND_KIB);

      // Reading again: everything arrives, the producer finishes, exit 0.
      let bytes = 0;
      let nonZero = false;
      r.child.stdout!.on('data', (b: Buffer) => {
        bytes += b.length;
        if (!nonZero && b.some((x) => x !== 0)) nonZero = true;
      });
      r.child.stdout!.resume();
      const code = await exitWithin(r, 90_000);
      const growth = rss.stop();
      console.log(`[${transport}] slow reader: all in ${Date.now() - t0} ms (4000 ms paused), daemon RSS peak growth ${mib(growth)} MiB`);
      expect(code, r.err()).toBe(0);
      expect(bytes).toBe(BIG);
      expect(nonZero).toBe(false);
      expect((await ok(d, ['exec', 'cx', 'cat', '/tmp/dd-done'], IN_NS)).stdout).toBe('done\n');
      expect(growth, 'daemon RSS growth (KiB) during the slow transfer').toBeLessThan(RSS_BOUND_KIB);
    }, 120_000);

    it('a client killed mid-attach: the container keeps running and the daemon frees the stream', async () => {
      await ok(d, ['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'while :; do echo tick; sleep 0.2; done']);
      const pid = d.pid()!;
      await sleep(500);
      const before = fdCount(pid);
      const a = start(clientArgv(d, host, ['attach', 'ticker']));
      await seen(a, /tick\n.*tick\n/s);
      const during = fdCount(pid);
      expect(during, 'the attached stream holds daemon fds').toBeGreaterThan(before);

      a.kill('SIGKILL');
      await a.exited;
      await waitFor(`daemon fds back to ${before} (now ${fdCount(pid)}: ${JSON.stringify(clientFifoFds(pid))})`, () => fdCount(pid) <= before || undefined, 10_000, 100);
      expect(clientFifoFds(pid)).toEqual([]);
      expect(await status(d, 'ticker')).toBe('running');

      // A new attach still receives the output.
      const b = start(clientArgv(d, host, ['attach', 'ticker']));
      await seen(b, 'tick\n');
      b.kill('SIGKILL');
      await b.exited;
      expect(await status(d, 'ticker')).toBe('running');
    }, 60_000);

    it('exit codes and separate stdout/stderr: exec exit 7, attached run --rm exit 3', async () => {
      const seven = await runClient(d, host, ['exec', 'cx', 'sh', '-c', 'exit 7']);
      expect(seven.code, seven.stderr).toBe(7);

      const split = await runClient(d, host, ['exec', 'cx', 'sh', '-c', 'echo out; echo err >&2']);
      expect({ code: split.code, stdout: split.stdout, stderr: split.stderr }).toEqual({ code: 0, stdout: 'out\n', stderr: 'err\n' });

      const before = (await ok(d, ['ps', '-a', '-q'])).stdout;
      const r = await runClient(d, host, ['run', '--rm', 'busybox', 'sh', '-c', 'echo hi; exit 3']);
      expect({ code: r.code, stdout: r.stdout }, r.stderr).toEqual({ code: 3, stdout: 'hi\n' });
      // --rm: the container is gone again.
      await waitFor('the --rm container removed', async () => ((await ok(d, ['ps', '-a', '-q'])).stdout === before ? true : undefined), 10_000, 200);
    }, 60_000);

    it('run -i: stdin that ends at once is never lost, and its end closes the container stdin', async () => {
      // A short input written and closed before the container even starts (the old race).
      for (let i = 0; i < 4; i++) {
        const r = await runClient(d, host, ['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo eof; exit 4'], `line ${i}\n`);
        expect({ code: r.code, stdout: r.stdout }, r.stderr).toEqual({ code: 4, stdout: `line ${i}\neof\n` });
      }
    }, 90_000);

    it('run -it on a pty: type, read, resize, ctrl-p ctrl-q detach, re-attach, exit 5', async () => {
      const t = startOnPty(d, host, ['run', '-it', '--name', 'shell', 'busybox', 'sh']);
      // busybox ash asks the terminal for the cursor position (ESC[6n) at each prompt and reads the
      // answer for a moment: keys typed in that moment are taken for it. Type once the prompt settled.
      await seen(t, '# ');
      await sleep(300);
      t.child.stdin!.write('echo $((6*7))\r');
      await seen(t, /^42\r?\r?\n\/ # /m);
      await sleep(300);
      t.child.stdin!.write('stty size\r');
      await seen(t, /^30 100\r?$/m);

      // The client's terminal grows: the container's pty follows (SIGWINCH → Resize).
      await resizePty(t, 40, 120);
      await waitFor(
        `stty size 40 120 after the resize in ${JSON.stringify(t.out())}`,
        async () => {
          if (/^40 120\r?$/m.test(t.out())) return true;
          t.child.stdin!.write('stty size\r');
          await sleep(300);
          return undefined;
        },
        10_000,
      );

      const before = t.out().length;
      t.child.stdin!.write('\x10\x11');
      expect(await exitWithin(t, 10_000)).toBe(0);
      expect(t.out().slice(before)).not.toMatch(/[a-z]/i);
      await sleep(300);
      expect(await status(d, 'shell')).toBe('running');

      const again = startOnPty(d, host, ['attach', 'shell']);
      await sleep(500);
      again.child.stdin!.write('stty size; echo again-$((2+3))\r');
      await seen(again, 'again-5');
      expect(again.out()).toMatch(/^30 100\r?$/m);
      again.child.stdin!.write('exit 5\r');
      expect(await exitWithin(again, 10_000)).toBe(5);
      expect(await status(d, 'shell')).toBe('exited');
    }, 60_000);

    it('exec -it on a pty: the window size, typing, exit 4', async () => {
      const e = startOnPty(d, host, ['exec', '-it', 'cx', 'sh']);
      await seen(e, '# ');
      await sleep(300); // see run -it: the prompt's cursor query must be over before typing
      e.child.stdin!.write('stty size; tty\r');
      await seen(e, /^30 100\r?$/m);
      await seen(e, /^\/dev\/pts\/\d+\r?$/m);
      e.child.stdin!.write('echo x-$((3*3))\r');
      await seen(e, /^x-9\r?$/m);
      e.child.stdin!.write('exit 4\r');
      expect(await exitWithin(e, 10_000)).toBe(4);
      expect(await status(d, 'cx')).toBe('running');
    }, 60_000);
  });
}
