/** How an option consumes values. `list` = repeatable value, values appended in order. */
export type OptionKind = 'bool' | 'string' | 'list';

export interface OptionSpec {
  /** Long name without the leading `--`. */
  long: string;
  /** Single-character short name without the leading `-`. */
  short?: string;
  kind: OptionKind;
  description: string;
  /** Informational only; the upstream help layout does not print value names. */
  valueName?: string;
}

export interface CommandSpec {
  /** Command name as typed after `isula`, e.g. `run`, `volume ls`. */
  name: string;
  /** Text printed after `Usage:  ` in the command help (includes the `isula ` prefix). */
  usage: string;
  /** One-line description (used both in `<cmd> --help` and in the top-level command list). */
  description: string;
  options: OptionSpec[];
}

export interface ParsedArgs {
  /** Keyed by long option name; only options that were given are present. */
  values: Record<string, boolean | string | string[]>;
  /** First positional token and everything after it, verbatim. */
  positionals: string[];
  /** True when `--help` was seen before the first positional (parsing stops there). */
  help: boolean;
}
