import { ISULA, run, type RunResult, type TestDaemon } from './harness';

/*
 * A "remote host" for the tcp/TLS suites: a network namespace of its own for the client, joined to
 * the daemon's network namespace by a veth pair (daemon side 10.<n>.0.1, client side 10.<n>.0.2).
 * Nothing on the host's own network changes (no address, route, forwarding or firewall rule); the
 * namespace and the links go in `cleanup()`.
 */

let counter = 0;

export interface RemoteClient {
  /** The network namespace the client runs in. */
  ns: string;
  /** The daemon's address as the client sees it. */
  daemonIp: string;
  clientIp: string;
  /** `isula <args>` from the client namespace (run through `ip netns exec`). */
  isula(args: string[], opts?: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** The argv that runs `isula <args>` from the client namespace (for long-running clients). */
  argv(args: string[]): string[];
  cleanup(): Promise<void>;
}

async function must(cmd: string, args: string[]): Promise<void> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

/** The addresses of a remote pair, known before the daemon starts (its certificate names them). */
export interface RemoteNet {
  daemonIp: string;
  clientIp: string;
  tag: string;
}

export function remoteNet(): RemoteNet {
  counter++;
  const n = 200 + ((process.pid + counter) % 50);
  return { daemonIp: `10.${n}.${counter % 250}.1`, clientIp: `10.${n}.${counter % 250}.2`, tag: `${process.pid % 100000}${counter}` };
}

/** Creates the client namespace and the veth pair into `d`'s network namespace. */
export async function remoteClient(d: TestDaemon, net: RemoteNet = remoteNet()): Promise<RemoteClient> {
  const pid = d.pid();
  if (pid === undefined) throw new Error('daemon is not running');
  const { daemonIp, clientIp, tag } = net;
  const ns = `ie2e-cli-${tag}`;
  const hostEnd = `ie2c${tag}`.slice(0, 15);
  const daemonEnd = `ie2d${tag}`.slice(0, 15);
  await must('ip', ['netns', 'add', ns]);
  try {
    await must('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', daemonEnd]);
    await must('ip', ['link', 'set', hostEnd, 'netns', ns]);
    await must('ip', ['link', 'set', daemonEnd, 'netns', String(pid)]);
    await must('ip', ['-n', ns, 'addr', 'add', `${clientIp}/24`, 'dev', hostEnd]);
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await must('ip', ['-n', ns, 'link', 'set', hostEnd, 'up']);
    await must('nsenter', ['-t', String(pid), '-n', 'ip', 'addr', 'add', `${daemonIp}/24`, 'dev', daemonEnd]);
    await must('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', daemonEnd, 'up']);
  } catch (err) {
    await run('ip', ['netns', 'del', ns]);
    throw err;
  }
  const argv = (args: string[]) => ['ip', 'netns', 'exec', ns, 'node', '--', ISULA, ...args];
  return {
    ns,
    daemonIp,
    clientIp,
    argv,
    isula: (args, opts = {}) => {
      const [cmd, ...rest] = argv(args);
      // A clean environment: the host's ISULAD_* settings must not leak into the tests.
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...(opts.env ?? {}) };
      return run(cmd!, rest, { env, input: opts.input, timeoutMs: opts.timeoutMs });
    },
    // Deleting the namespace deletes its veth end, and with it the peer in the daemon's namespace.
    cleanup: async () => {
      await run('ip', ['netns', 'del', ns]);
    },
  };
}
