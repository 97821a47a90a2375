import { Cli } from 'clipanion';
import { findIsulaCommand, isulaCommandGroups, isulaGroupHelp, isulaTopLevelHelp } from '@isula/argv';
import { buildInfo } from './build-info';
import type { CommandClass } from 'clipanion';
import type { IsulaCommand } from './command-base';
import InfoCommand from './commands/info';
import { pendingCommands } from './commands/pending';
import VersionCommand from './commands/version';

/** Every command class; the not-yet-landed ones come from the pending list. */
function commands(): (typeof IsulaCommand)[] {
  return [VersionCommand, InfoCommand, ...pendingCommands()];
}

/**
 * `isula <command> [options] [args]`. Global options are not accepted before the command (upstream
 * rule): the first word picks the command, management commands take a second word.
 */
export async function main(argv: string[]): Promise<number> {
  const out = process.stdout;
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h') {
    if (first === '--help' && second !== undefined && findIsulaCommand(second)) {
      return main([second, '--help']);
    }
    out.write(isulaTopLevelHelp());
    return 0;
  }
  if (first === '--version') {
    out.write(`Version ${buildInfo.version}, commit ${buildInfo.gitCommit}\n`);
    return 0;
  }
  let path = [first];
  if (isulaCommandGroups[first] !== undefined) {
    if (second === undefined || second.startsWith('-') || !findIsulaCommand(`${first} ${second}`)) {
      if (second !== undefined && !second.startsWith('-')) {
        out.write(`isula ${first}: command "${second}" not found\nrun \`isula ${first} --help\` for a list of sub-commands\n`);
        return 1;
      }
      out.write(isulaGroupHelp(first));
      return 0;
    }
    path = [first, second];
  } else if (!findIsulaCommand(first)) {
    out.write(`isula: command "${first}" not found\nrun \`isula --help\` for a list of sub-commands\n`);
    return 1;
  }
  const cli = new Cli({ binaryName: 'isula', binaryVersion: buildInfo.version, enableColors: false });
  for (const c of commands()) {
    const paths = (c as unknown as { paths: string[][] }).paths;
    if (paths.some((p) => p.join(' ') === path.join(' '))) cli.register(c as unknown as CommandClass);
  }
  return cli.run([...path, ...argv.slice(path.length)], Cli.defaultContext);
}
