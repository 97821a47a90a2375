import { agoFromNanos, durationAgo, durationSince } from './time';

/*
 * `isula ps` output as upstream's client lays it out (`src/cmd/isula/information/ps.c`): a
 * Go-template-like format (default `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}`)
 * whose fields are padded to the widest value of their column and whose literal text (the tabs
 * included) is printed as is, with `\n`, `\t` and `\\` escapes interpreted.
 */

/** What `ps` needs of a listed container (the `containers.Container` message fits). */
export interface PsContainer {
  id: string;
  pid: number;
  /** ContainerStatus: 0 unknown, 1 created, 2 starting, 3 running, 4 stopped, 5 paused, 6 restarting. */
  status: number;
  image: string;
  command: string;
  exitCode: number;
  restartcount: number;
  startat: string;
  finishat: string;
  runtime: string;
  name: string;
  healthState: string;
  /** Nanoseconds since the epoch. */
  created: number | bigint;
}

export const DEFAULT_PS_FORMAT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

const FIELDS = ['ID', 'Image', 'Command', 'Created', 'Status', 'Ports', 'Names', 'Pid', 'ExitCode', 'RestartCount', 'StartAt', 'FinishAt', 'Runtime', 'State'] as const;
type Field = (typeof FIELDS)[number];

const STATES = ['unknown', 'inited', 'starting', 'running', 'exited', 'paused', 'restarting'];
const COMMAND_LENGTH_MAX = 22;

export type FormatItem = { field: Field } | { text: string };

export interface PsFormat {
  /** `table` prefix: print the header line. */
  table: boolean;
  items: FormatItem[];
}

/** A `--format` upstream refuses, with its message (the command then fails with exit 1). */
export class PsFormatError extends Error {}

const SINGLE_FIELD = /\{\{\s*\.\w+\s*\}\}/;

/** Splits a `--format` the way upstream does (`get_filter_field`); `table` alone or none = the default. */
export function parsePsFormat(format: string | undefined): PsFormat {
  const pattern = format === undefined || format === 'table' ? DEFAULT_PS_FORMAT : format;
  let pos = 0;
  let table = false;
  const items: FormatItem[] = [];
  if (pattern.startsWith('table')) {
    table = true;
    pos = 5;
  }
  let prefix = pattern.indexOf('{{', pos);
  if (prefix < 0) return { table, items };
  const lead = pattern.slice(pos, prefix);
  if (lead.trim() !== '') items.push({ text: lead });
  let suffix = pattern.indexOf('}}', prefix);
  while (prefix >= 0 && suffix >= 0) {
    const sub = pattern.slice(prefix, suffix + 2);
    if (!SINGLE_FIELD.test(sub)) throw new PsFormatError(`invalid format field: ${sub}`);
    const name = fieldName(sub);
    if (!(FIELDS as readonly string[]).includes(name)) throw new PsFormatError(`--format not support the field: ${name}`);
    items.push({ field: name as Field });
    const after = suffix + 2;
    if (after >= pattern.length) break;
    prefix = pattern.indexOf('{{', after);
    items.push({ text: prefix < 0 ? pattern.slice(after) : pattern.slice(after, prefix) });
    suffix = prefix < 0 ? -1 : pattern.indexOf('}}', prefix);
  }
  return { table, items };
}

/** The word after the first `.` up to a space or `}` (upstream's strtok-based `get_filter_string`). */
function fieldName(sub: string): string {
  const rest = sub.slice(sub.indexOf('.') + 1);
  const m = /^[ }]*([^ }]*)/.exec(rest);
  return m ? m[1]! : '';
}

/** Prints literal format text as upstream does: `\n`, `\t`, `\\` interpreted, other backslashes kept. */
export function interpretEscapes(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      const next = text[++i]!;
      if (next === 'n') out += '\n';
      else if (next === 't') out += '\t';
      else if (next === '\\') out += '\\';
      else out += `\\${next}`;
      continue;
    }
    out += ch;
  }
  return out;
}

/** The STATUS column: `Up 3 seconds`, `Exited (0) 5 minutes ago`, `Created`, `Up … (Paused)`... */
export function statusText(c: PsContainer, nowMs: number = Date.now()): string {
  const startAt = c.startat ? durationSince(c.startat, nowMs) : '-';
  const finishAt = c.finishat ? durationAgo(c.finishat, nowMs) : '-';
  const health = c.healthState ? ` (${c.healthState})` : '';
  switch (c.status) {
    case 3:
      return `Up ${startAt}${health}`;
    case 1:
      return 'Created';
    case 6:
      return `Restarting (${c.exitCode | 0}) ${finishAt}`;
    case 5:
      return `Up ${startAt} (Paused)`;
    case 2:
      return `Starting ${startAt}`;
    default:
      return `Exited (${c.exitCode | 0}) ${finishAt}`;
  }
}

/** The STATE column: upstream's state words (`inited`, `running`, `exited`...). */
export function stateText(status: number): string {
  return STATES[status] ?? '-';
}

const u32 = (n: number) => String(n >>> 0);
const orDash = (s: string) => (s === '' ? '-' : s);

interface Widths {
  ID: number;
  Image: number;
  Command: number;
  Created: number;
  Status: number;
  Ports: number;
  Names: number;
  Pid: number;
  ExitCode: number;
  RestartCount: number;
  StartAt: number;
  FinishAt: number;
  Runtime: number;
  State: number;
}

const HEADERS: Record<Field, string> = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  Created: 'CREATED',
  Status: 'STATUS',
  Ports: 'PORTS',
  Names: 'NAMES',
  Pid: 'PID',
  ExitCode: 'EXIT_CODE',
  RestartCount: 'RESTART_COUNT',
  StartAt: 'STARTAT',
  FinishAt: 'FINISHAT',
  Runtime: 'RUNTIME',
  State: 'STATE',
};

function widths(list: PsContainer[], noTrunc: boolean, nowMs: number): Widths {
  const w: Widths = {
    ID: 12,
    Image: 5,
    Command: 7,
    Created: 7,
    Status: 6,
    Ports: 5,
    Names: 5,
    State: 5,
    Pid: 3,
    ExitCode: 9,
    RestartCount: 13,
    StartAt: 7,
    FinishAt: 8,
    Runtime: 7,
  };
  const grow = (k: keyof Widths, s: string) => {
    if (s.length > w[k]) w[k] = s.length;
  };
  for (const c of list) {
    if (noTrunc) grow('ID', orDash(c.id));
    grow('Image', c.image || 'none');
    grow('Created', agoFromNanos(c.created, nowMs));
    grow('Command', `${orDash(c.command)}  `);
    grow('Names', orDash(c.name));
    if (c.runtime) grow('Runtime', c.runtime);
    grow('Status', statusText(c, nowMs));
    grow('State', stateText(c.status) + (c.healthState ? `(${c.healthState})` : ''));
    if (c.pid !== -1) grow('Pid', u32(c.pid));
    grow('ExitCode', u32(c.exitCode));
    grow('RestartCount', u32(c.restartcount));
    if (c.startat) grow('StartAt', durationAgo(c.startat, nowMs));
    if (c.finishat) grow('FinishAt', durationAgo(c.finishat, nowMs));
  }
  return w;
}

function commandCell(command: string, width: number): string {
  const cmd = orDash(command);
  if (cmd.length > COMMAND_LENGTH_MAX - 2) return `"${cmd.slice(0, COMMAND_LENGTH_MAX - 5).padEnd(COMMAND_LENGTH_MAX - 5)}..." `;
  const space = width - cmd.length - 2;
  // printf("%*s", space, space == 0 ? "" : " "): a negative width left-justifies.
  const filler = space === 0 ? '' : ' '.padEnd(Math.abs(space));
  return `"${cmd}"${filler}`;
}

function cell(c: PsContainer, field: Field, w: Widths, nowMs: number): string {
  switch (field) {
    case 'ID':
      return orDash(c.id).slice(0, w.ID).padEnd(w.ID);
    case 'Image':
      return (c.image || 'none').padEnd(w.Image);
    case 'Status':
      return statusText(c, nowMs).padEnd(w.Status);
    case 'Pid':
      return (c.pid !== 0 ? u32(c.pid) : '-').padEnd(w.Pid);
    case 'Command':
      return commandCell(c.command, w.Command);
    case 'Created':
      return agoFromNanos(c.created, nowMs).padEnd(w.Created);
    case 'Ports':
      return '     '.padEnd(w.Ports);
    case 'ExitCode':
      return u32(c.exitCode).padEnd(w.ExitCode);
    case 'RestartCount':
      return u32(c.restartcount).padEnd(w.RestartCount);
    case 'StartAt':
      return (c.startat ? durationSince(c.startat, nowMs) : '-').padEnd(w.StartAt);
    case 'FinishAt':
      return (c.finishat ? durationSince(c.finishat, nowMs) : '-').padEnd(w.FinishAt);
    case 'Runtime':
      return (c.runtime || 'lcr').padEnd(w.Runtime);
    case 'Names':
      return orDash(c.name).padEnd(w.Names);
    case 'State':
      return stateText(c.status).padEnd(w.State);
  }
}

/** Upstream's order: most recently started first (a string comparison of `startat`, `-` when unset). */
export function sortForPs<T extends PsContainer>(list: T[]): T[] {
  const key = (c: PsContainer) => c.startat || '-';
  return [...list].sort((a, b) => (key(a) < key(b) ? 1 : key(a) > key(b) ? -1 : 0));
}

export interface PsOptions {
  noTrunc?: boolean;
  format?: PsFormat;
  nowMs?: number;
}

/** The whole `ps` table (header when the format starts with `table`), rows in the given order. */
export function renderPs(list: PsContainer[], o: PsOptions = {}): string {
  const nowMs = o.nowMs ?? Date.now();
  const fmt = o.format ?? parsePsFormat(undefined);
  const w = widths(list, o.noTrunc === true, nowMs);
  let out = '';
  if (fmt.table) {
    for (const item of fmt.items) {
      if ('text' in item) out += interpretEscapes(item.text);
      else if (item.field === 'Command') {
        if (w.Command > COMMAND_LENGTH_MAX) w.Command = COMMAND_LENGTH_MAX;
        out += HEADERS.Command.padEnd(w.Command);
      } else out += HEADERS[item.field].padEnd(w[item.field]);
    }
    out += '\n';
  }
  for (const c of list) {
    for (const item of fmt.items) out += 'text' in item ? interpretEscapes(item.text) : cell(c, item.field, w, nowMs);
    out += '\n';
  }
  return out;
}

/** `ps -q`: one full id per line (upstream pads to 12 but does not cut). */
export function renderPsQuiet(list: PsContainer[]): string {
  return list
    .filter((c) => c.status >= 0 && c.status < STATES.length)
    .map((c) => `${orDash(c.id).padEnd(12)}\n`)
    .join('');
}
