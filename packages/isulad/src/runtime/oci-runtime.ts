import { execFile } from 'node:child_process';
import { access, constants as fsConstants } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import type { RuntimeEntry } from '../config';

/** An OCI runtime command line (runc, crun through its wrapper, kata-runtime...), as isulad runs it. */
export interface OciRuntime {
  /** The name containers record (`runc`, or a key of daemon.json `runtimes`). */
  name: string;
  /** Absolute path of the executable. */
  path: string;
  /** Global arguments placed before every verb (daemon.json `runtime-args`). */
  args: string[];
}

export class RuntimeError extends Error {
  constructor(
    message: string,
    /** The runtime's exit status when it ran and failed (for `exec`, the process's own). */
    readonly exitCode?: number,
    /** What the runtime printed on stdout before failing. */
    readonly stdout = '',
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

/** Runtimes isulad knows without configuration: found on PATH under their own name. */
const BUILTIN = ['runc', 'crun', 'kata-runtime', 'runsc'];

/**
 * Resolves a runtime name as upstream does for its "isula" runtime ops: a `runtimes` entry of
 * daemon.json first (path + runtime-args), then a well-known name found on PATH. `lcr` is not
 * available in this implementation and says so.
 */
export async function resolveRuntime(name: string, runtimes: Record<string, RuntimeEntry>, env: NodeJS.ProcessEnv = process.env): Promise<OciRuntime> {
  const entry = runtimes[name];
  if (entry) {
    const path = isAbsolute(entry.path) ? entry.path : await which(entry.path, env);
    if (path === undefined || !(await executable(path))) throw new RuntimeError(`Invalid runtime name: ${name} (${entry.path} is not executable)`);
    return { name, path, args: entry.runtimeArgs };
  }
  if (name.toLowerCase() === 'lcr') throw new RuntimeError('Runtime lcr is not available in this isulad; use runc (the default) or a runtime from daemon.json "runtimes"');
  if (BUILTIN.includes(name)) {
    const path = await which(name, env);
    if (path !== undefined) return { name, path, args: [] };
  }
  throw new RuntimeError(`Invalid runtime name: ${name}`);
}

async function executable(path: string): Promise<boolean> {
  return access(path, fsConstants.X_OK).then(
    () => true,
    () => false,
  );
}

async function which(cmd: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const dirs = (env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
  for (const dir of dirs) {
    const p = join(dir, cmd);
    if (await executable(p)) return p;
  }
  return undefined;
}

/** The runtime's own state root for one container: beside isulad's files in its run directory. */
export function runtimeRoot(stateDir: string): string {
  return join(stateDir, 'runtime');
}

/** Runs one runtime verb for a container; the runtime's stderr becomes the error text. */
export function runVerb(rt: OciRuntime, stateDir: string, verb: string[], input?: string, timeoutMs = 0): Promise<string> {
  const argv = [...rt.args, '--root', runtimeRoot(stateDir), ...verb];
  return new Promise((resolve, reject) => {
    const child = execFile(rt.path, argv, { maxBuffer: 16 * 1024 * 1024, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) {
        const text = runtimeMessage(String(stderr)) || err.message;
        reject(new RuntimeError(text, typeof err.code === 'number' ? err.code : undefined, String(stdout)));
      } else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** runc prints `time="…" level=error msg="…"` lines; the message is what a user wants to read. */
export function runtimeMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => l.trim() !== '');
  const msgs = lines.map((l) => {
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(l);
    return m ? m[1]!.replace(/\\"/g, '"').replace(/\\\\/g, '\\') : l.trim();
  });
  return msgs.join('; ');
}

/** The runtime's view of a container (`state` verb), or undefined when it does not know it. */
export async function runtimeState(rt: OciRuntime, stateDir: string, id: string): Promise<{ status: string; pid: number } | undefined> {
  try {
    const out = await runVerb(rt, stateDir, ['state', id]);
    const st = JSON.parse(out) as { status?: string; pid?: number };
    return { status: st.status ?? 'unknown', pid: st.pid ?? 0 };
  } catch {
    return undefined;
  }
}
