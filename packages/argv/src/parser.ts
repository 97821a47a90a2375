import { ArgvError } from './errors';
import type { OptionSpec, ParsedArgs } from './types';

const TRUE_WORDS = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/**
 * Boolean words accepted after `=` on a bool flag (same set as upstream's util_str_to_bool).
 * Returns undefined for anything else.
 */
export function parseBoolWord(text: string): boolean | undefined {
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  return undefined;
}

/**
 * Parse the tokens that follow the sub-command name, following the iSulad command parser rules:
 *
 * - options are read until the first positional (a token not starting with `-`, or exactly `-`);
 *   that token and everything after it are returned verbatim in `positionals`;
 * - `--` ends the options and is dropped;
 * - long options match by exact name: `--name value` or `--name=value`;
 * - short options may be clustered (`-itd`); `-o=value` attaches a value; a value-taking short
 *   option without `=` takes the NEXT token as its value and the remaining letters of the cluster
 *   are parsed as further flags (so `-ovalue` does not attach `value`);
 * - bool options never consume the next token; `=<word>` sets them explicitly;
 * - `--help` is always recognised; parsing stops there and `help` is true.
 *
 * Any error throws {@link ArgvError} (exit code 125) carrying the upstream message text.
 */
export function parseArgs(argv: readonly string[], options: readonly OptionSpec[]): ParsedArgs {
  const values: Record<string, boolean | string | string[]> = {};
  let positionals: string[] = [];

  const byShort = new Map<string, OptionSpec>();
  const byLong = new Map<string, OptionSpec>();
  for (const opt of options) {
    if (opt.short !== undefined && opt.short !== '' && !byShort.has(opt.short)) byShort.set(opt.short, opt);
    if (!byLong.has(opt.long)) byLong.set(opt.long, opt);
  }

  let i = 0;

  // Store a value for `opt`. `attached` is the text after `=` (undefined when none was given).
  // For value-taking options without an attached value the next argv token is consumed.
  const apply = (opt: OptionSpec, attached: string | undefined): void => {
    if (opt.kind === 'bool') {
      let v = true;
      if (attached !== undefined) {
        const parsed = parseBoolWord(attached);
        if (parsed === undefined) {
          throw new ArgvError(`Invalid boolean value "${attached}" for flag --${opt.long}`);
        }
        v = parsed;
      }
      values[opt.long] = v;
      return;
    }
    let value: string;
    if (attached !== undefined) {
      value = attached;
    } else if (i + 1 < argv.length) {
      i += 1;
      value = argv[i];
    } else {
      throw new ArgvError(`Flag needs an argument: --${opt.long}`);
    }
    if (opt.kind === 'list') {
      const prev = values[opt.long];
      if (Array.isArray(prev)) prev.push(value);
      else values[opt.long] = [value];
    } else {
      values[opt.long] = value;
    }
  };

  for (; i < argv.length; i++) {
    const tok = argv[i];
    if (tok.length < 2 || tok[0] !== '-') {
      positionals = argv.slice(i);
      break;
    }

    if (tok[1] !== '-') {
      // Short option cluster.
      let rest: string | undefined = tok.slice(1);
      while (rest !== undefined) {
        const ch: string = rest[0];
        const opt = byShort.get(ch);
        if (opt === undefined) {
          throw new ArgvError(`Unknown flag found:'${ch}'`);
        }
        let attached: string | undefined;
        if (rest.length > 1) {
          if (rest[1] === '=') {
            attached = rest.slice(2);
            rest = undefined;
          } else {
            rest = rest.slice(1);
          }
        } else {
          rest = undefined;
        }
        apply(opt, attached);
      }
      continue;
    }

    if (tok.length === 2) {
      // `--` ends the options.
      positionals = argv.slice(i + 1);
      break;
    }

    const body = tok.slice(2);
    if (body === 'help') {
      return { values, positionals: [], help: true };
    }
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const attached = eq < 0 ? undefined : body.slice(eq + 1);

    if (name === 'help') {
      // `--help=<bool>`: treat like a bool flag.
      const parsed = parseBoolWord(attached as string);
      if (parsed === undefined) {
        throw new ArgvError(`Invalid boolean value "${attached}" for flag --help`);
      }
      if (parsed) return { values, positionals: [], help: true };
      continue;
    }

    const opt = byLong.get(name);
    if (opt === undefined) {
      throw new ArgvError(`Unknown flag found:'--${body}'`);
    }
    apply(opt, attached);
  }

  return { values, positionals, help: false };
}
