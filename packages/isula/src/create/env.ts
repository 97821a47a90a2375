import * as fs from 'node:fs';
import { invalidArg } from './errors';

/** Upstream REGULAR_FILE_SIZE: env/label/hook files above 10 MiB are refused. */
export const REGULAR_FILE_SIZE = 10 * 1024 * 1024;

/**
 * One `-e` entry (`util_valid_env`): `K=V` is kept verbatim; a bare `K` takes its value from the
 * client environment and is dropped when unset. Returns undefined when dropped, null when invalid.
 */
export function resolveEnvEntry(entry: string, env: NodeJS.ProcessEnv): string | undefined | null {
  const eq = entry.indexOf('=');
  const key = eq < 0 ? entry : entry.slice(0, eq);
  if (key === '') return null;
  if (eq >= 0) return entry;
  const value = env[entry];
  return value === undefined ? undefined : `${entry}=${value}`;
}

/** `-e/--env` entries, in order. Throws `Invalid environment <e>`. */
export function parseEnvList(entries: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const e of entries) {
    const r = resolveEnvEntry(e, env);
    if (r === null) return invalidArg(`Invalid environment ${e}`);
    if (r !== undefined) out.push(r);
  }
  return out;
}

function readSmallFile(path: string, what: 'env' | 'label'): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    return invalidArg(`${what} file not exists: ${path}`);
  }
  if (st.size > REGULAR_FILE_SIZE) {
    return invalidArg(`${what} file '${path}', size exceed limit: ${REGULAR_FILE_SIZE}`);
  }
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return invalidArg(`failed to read ${what} from file: ${path}`);
  }
}

/** Lines of a line-delimited file; blank lines and `#` comment lines are skipped. */
function contentLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
}

/** Parse the content of an `--env-file`. Returns null when a line is invalid. */
export function parseEnvFileContent(text: string, env: NodeJS.ProcessEnv): string[] | null {
  const out: string[] = [];
  for (const line of contentLines(text)) {
    const r = resolveEnvEntry(line, env);
    if (r === null) return null;
    if (r !== undefined) out.push(r);
  }
  return out;
}

/** Read every `--env-file` in order (`env file not exists: <p>`, `failed to read env from file: <p>`). */
export function readEnvFiles(paths: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const parsed = parseEnvFileContent(readSmallFile(p, 'env'), env);
    if (parsed === null) return invalidArg(`failed to read env from file: ${p}`);
    out.push(...parsed);
  }
  return out;
}

/** Split `KEY[=VALUE]`; a missing value is "". Throws `Invalid label '<l>': empty name`. */
export function parseLabel(label: string): [string, string] {
  const eq = label.indexOf('=');
  const key = eq < 0 ? label : label.slice(0, eq);
  if (key === '') return invalidArg(`Invalid label '${label}': empty name`);
  return [key, eq < 0 ? '' : label.slice(eq + 1)];
}

/** Labels from `--label-file` files (trimmed lines) then `--label` (later entries win). */
export function buildLabels(labelFiles: readonly string[], labels: readonly string[]): Record<string, string> | undefined {
  const entries: string[] = [];
  for (const p of labelFiles) {
    const text = readSmallFile(p, 'label');
    entries.push(...contentLines(text).map((l) => l.trim()));
  }
  entries.push(...labels);
  if (entries.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const [k, v] = parseLabel(e);
    out[k] = v;
  }
  return out;
}

/** `--annotation KEY[=VALUE]` into `into`. Throws `Invalid option: '<a>'` for an empty key. */
export function addAnnotation(into: Record<string, string>, option: string): void {
  const eq = option.indexOf('=');
  const key = eq < 0 ? option : option.slice(0, eq);
  if (key === '') return invalidArg(`Invalid option: '${option}'`);
  into[key] = eq < 0 ? '' : option.slice(eq + 1);
}
