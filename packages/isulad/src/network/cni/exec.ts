/**
 * Running one CNI plugin the way the spec says (and libcni's invoke package does): the binary is found
 * by its `type` in the bin dirs, parameters go in CNI_* environment variables, the configuration on
 * stdin, the result on stdout; a failure is a non-zero exit with an error object `{code, msg, details}`
 * on stdout. Always asynchronous (execFile), never blocking the daemon.
 */
import { execFile } from 'node:child_process';
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { CniError } from './errors';

export type CniCommand = 'ADD' | 'CHECK' | 'DEL' | 'VERSION';

/** Finds the executable for a plugin type: the first `<dir>/<type>` that is an executable file. */
export async function findPlugin(type: string, binDirs: string[]): Promise<string> {
  for (const dir of binDirs) {
    const p = path.join(dir, type);
    try {
      const st = await fsp.stat(p);
      if (!st.isFile()) continue;
      await fsp.access(p, constants.X_OK);
      return p;
    } catch {
      /* next dir */
    }
  }
  throw new CniError(`failed to find plugin ${JSON.stringify(type)} in path [${binDirs.join(' ')}]`, { plugin: type });
}

export interface InvokeArgs {
  command: CniCommand;
  /** path of the plugin binary */
  pluginPath: string;
  /** the plugin's `type` and the network name, for error texts */
  type: string;
  network: string;
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS as key/value pairs, joined as K=V;K=V */
  cniArgs: Array<[string, string]>;
  binDirs: string[];
  /** the configuration given on stdin */
  stdin: string;
  timeoutMs: number;
  execPrefix?: string[];
}

export interface InvokeOutput {
  /** parsed stdout (ADD result); undefined when stdout was empty */
  result: unknown;
  stderr: string;
}

/** Formats CNI_ARGS as the spec wants: alphanumeric keys, `;` between pairs. */
export function formatCniArgs(args: Array<[string, string]>): string {
  return args.map(([k, v]) => `${k}=${v}`).join(';');
}

function pluginErrorText(stdout: string): { text: string; code?: number } | undefined {
  const s = stdout.trim();
  if (s === '') return undefined;
  try {
    const e = JSON.parse(s) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e === 'object' && e !== null && (typeof e.msg === 'string' || typeof e.code === 'number')) {
      const msg = typeof e.msg === 'string' && e.msg !== '' ? e.msg : `error code ${String(e.code)}`;
      const details = typeof e.details === 'string' && e.details !== '' ? `; ${e.details}` : '';
      return { text: msg + details, code: typeof e.code === 'number' ? e.code : undefined };
    }
  } catch {
    /* not JSON: fall through */
  }
  return { text: s };
}

export function invokePlugin(a: InvokeArgs): Promise<InvokeOutput> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CNI_COMMAND: a.command,
    CNI_CONTAINERID: a.containerId,
    CNI_NETNS: a.netns,
    CNI_IFNAME: a.ifName,
    CNI_ARGS: formatCniArgs(a.cniArgs),
    CNI_PATH: a.binDirs.join(':'),
  };
  const prefix = a.execPrefix ?? [];
  const file = prefix.length > 0 ? prefix[0] : a.pluginPath;
  const argv = prefix.length > 0 ? [...prefix.slice(1), a.pluginPath] : [];
  const what = `plugin type=${JSON.stringify(a.type)} name=${JSON.stringify(a.network)} failed (${a.command.toLowerCase()})`;
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      argv,
      { env, timeout: a.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const errOut = stderr.trim();
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: unknown };
          let text: string;
          let code: number | undefined;
          if (typeof e.code === 'string') {
            text = `cannot run ${file}: ${e.message}`;
          } else if (e.killed && e.signal === 'SIGKILL') {
            text = `timed out after ${Number((a.timeoutMs / 1000).toFixed(1))}s`;
          } else {
            const pe = pluginErrorText(stdout);
            code = pe?.code;
            text = pe?.text ?? (errOut !== '' ? errOut : e.signal ? `killed by ${e.signal}` : `exit status ${String(e.code)}`);
          }
          reject(new CniError(`${what}: ${text}`, { code, command: a.command, plugin: a.type, network: a.network, stderr: errOut }));
          return;
        }
        const out = stdout.trim();
        if (out === '') {
          resolve({ result: undefined, stderr: errOut });
          return;
        }
        try {
          resolve({ result: JSON.parse(out), stderr: errOut });
        } catch (pe) {
          if (a.command === 'ADD' || a.command === 'VERSION') {
            reject(
              new CniError(`${what}: cannot parse the plugin's result: ${(pe as Error).message}`, {
                command: a.command, plugin: a.type, network: a.network, stderr: errOut,
              }),
            );
          } else {
            resolve({ result: undefined, stderr: errOut }); // CHECK/DEL print nothing useful on success
          }
        }
      },
    );
    child.stdin?.on('error', () => undefined); // a plugin may exit before reading stdin (EPIPE)
    child.stdin?.end(a.stdin);
  });
}
