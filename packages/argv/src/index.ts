export type { OptionKind, OptionSpec, CommandSpec, ParsedArgs } from './types';
export { ArgvError, EXIT_INVALID_ARGS } from './errors';
export { parseArgs, parseBoolWord } from './parser';
export { renderHelp, renderOptionTable } from './help';
export {
  commonOptions,
  isulaCommands,
  isulaCommandGroups,
  isulaTopLevelHelp,
  isulaGroupHelp,
  findIsulaCommand,
} from './isula';
export { isuladOptions, isuladExtraOptionNames, renderIsuladHelp } from './isulad';
