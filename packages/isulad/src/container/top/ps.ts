/**
 * `isula top`: run the host's `ps` (procps; /usr/bin/ps on Debian) with the client's arguments (default
 * `-ef`), find the PID column in the header, keep the lines of the container's processes. The pid set
 * comes from `runc ps --format json <id>` run by the caller (see `parseRuncPs`).
 *
 * Like upstream iSulad the reply keeps ps's own text: `titles` is the header line and each process is
 * its whole line, so the client prints them with ps's alignment. Filtering is Docker's
 * (daemon/top_unix.go): fields split on ASCII whitespace; a line whose PID field is "-" (a thread line
 * from `-m`/`H`) follows the process line before it; same error texts.
 */
import { execFile } from 'node:child_process';

export interface TopResult {
  /** The header line of ps's output. */
  titles: string;
  /** The lines of the container's processes, in ps's order. */
  processes: string[];
}

export class TopError extends Error {
  override name = 'TopError';
}

export interface TopOptions {
  /** The ps binary (default `ps`, looked up in PATH). */
  psPath?: string;
  /** Kill ps after this long (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_ARGS = ['-ef'];
const MAX_OUTPUT = 64 * 1024 * 1024;

/** Splits on ASCII whitespace only (Docker's fieldsASCII: a non-breaking space inside a command stays). */
function fieldsASCII(s: string): string[] {
  return s.split(/[\t\n\f\r ]+/).filter((f) => f !== '');
}

/**
 * Docker's validatePSArgs: renaming a column to something starting with "PID" (`-o user=PID`) would make
 * us filter on the wrong column, so only `pid=PID…` is allowed.
 */
export function validatePsArgs(args: string[]): void {
  const joined = ` ${args.join(' ')}`;
  const re = /\s+([^\s]*)=\s*(PID[^\s]*)/g;
  for (let m = re.exec(joined); m !== null; m = re.exec(joined)) {
    if (m[1] !== 'pid') throw new TopError(`specifying "${m[1]}=${m[2]}" is not allowed`);
  }
}

/** Keeps ps's header and the lines of `pids`. */
export function parsePsOutput(output: string, pids: Iterable<number>): TopResult {
  const want = new Set(pids);
  const lines = output.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const titles = lines[0] ?? '';
  const pidIndex = fieldsASCII(titles).indexOf('PID');
  if (pidIndex === -1) throw new TopError("Couldn't find PID field in ps output");

  const processes: string[] = [];
  let previousKept = false;
  for (const line of lines.slice(1)) {
    if (line.length === 0) continue;
    const fields = fieldsASCII(line);
    if (fields.length <= pidIndex) continue;
    const field = fields[pidIndex];
    if (field === '-') {
      if (previousKept) processes.push(line);
      continue;
    }
    if (!/^[+-]?\d+$/.test(field)) throw new TopError(`Unexpected pid '${field}': invalid syntax`);
    previousKept = want.has(Number(field));
    if (previousKept) processes.push(line);
  }
  return { titles, processes };
}

/** `runc ps --format json <id>` output → pids. runc prints `null` for no process. */
export function parseRuncPs(json: string | Buffer): number[] {
  const text = (typeof json === 'string' ? json : json.toString('utf8')).trim();
  let v: unknown;
  try {
    v = JSON.parse(text === '' ? 'null' : text);
  } catch {
    throw new TopError(`Invalid runc ps output: ${text.slice(0, 200)}`);
  }
  if (v === null) return [];
  if (!Array.isArray(v) || !v.every((p) => Number.isInteger(p) && p > 0)) {
    throw new TopError(`Invalid runc ps output: ${text.slice(0, 200)}`);
  }
  return v as number[];
}

function runPs(psPath: string, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      psPath,
      args,
      { encoding: 'utf8', maxBuffer: MAX_OUTPUT, timeout: timeoutMs, signal, windowsHide: true },
      (err, stdout, stderr) => {
        if (err) {
          const detail = (stderr ?? '').trim() || err.message;
          reject(new TopError(`Error running ps: ${detail}`));
          return;
        }
        resolve(stdout);
      },
    );
  });
}

/** Runs ps with `psArgs` (default -ef) and keeps the processes of `pids`. */
export async function top(pids: number[], psArgs: string[], opts: TopOptions = {}): Promise<TopResult> {
  const args = psArgs.length > 0 ? psArgs : DEFAULT_ARGS;
  validatePsArgs(args);
  const output = await runPs(opts.psPath ?? 'ps', args, opts.timeoutMs ?? 30_000, opts.signal);
  return parsePsOutput(output, pids);
}
