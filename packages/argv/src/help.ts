import type { CommandSpec, OptionSpec } from './types';

/** Byte-wise comparison (same ordering as C strcmp for ASCII names). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Option entry shown by every `isula <cmd> --help` even though `help` is not declared. */
export const HELP_OPTION: OptionSpec = { long: 'help', kind: 'bool', description: 'Show help' };

/**
 * Render an option table the way iSulad's command parser does:
 * options sorted by long name; each line is `  -s, --long` or `      --long`, padded so that all
 * descriptions start in the same column. That column is (longest long name + 12): two leading
 * blanks, `-s, --` (6), the name, and at least four blanks. The block ends with an empty line.
 */
export function renderOptionTable(options: readonly OptionSpec[]): string {
  const sorted = [...options].sort((a, b) => compareNames(a.long, b.long));
  let width = 0;
  for (const opt of sorted) {
    const len = opt.long ? opt.long.length + 6 : 2;
    if (len > width) width = len;
  }
  width += 6;

  let out = '';
  for (const opt of sorted) {
    let head = '  ';
    if (opt.short) head += `-${opt.short}`;
    if (opt.long) head += opt.short ? `, --${opt.long}` : `    --${opt.long}`;
    const pad = head.length <= width ? width - head.length : 0;
    out += `${head}${' '.repeat(pad)}${opt.description}\n`;
  }
  return `${out}\n`;
}

/**
 * Text of `isula <cmd> --help`: a blank line, `Usage:  <usage>`, a blank line, the description,
 * a blank line, then the sorted option table (including the implicit `--help`).
 */
export function renderHelp(spec: CommandSpec): string {
  const options = spec.options.some((o) => o.long === 'help') ? spec.options : [...spec.options, HELP_OPTION];
  return `\nUsage:  ${spec.usage}\n\n${spec.description}\n\n${renderOptionTable(options)}`;
}
