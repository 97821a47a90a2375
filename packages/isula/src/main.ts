import { findIsulaCommand, isulaCommandGroups, isulaGroupHelp, isulaTopLevelHelp } from '@isula/argv';
import { buildInfo } from './build-info';

/**
 * `isula <command> [options] [args]`. Global options are not accepted before the command (upstream
 * rule): the first word picks the command, management commands take a second word. Help, version
 * and unknown commands are answered here; only a real command loads clipanion and the client.
 */
export async function main(argv: string[]): Promise<number> {
  const out = process.stdout;
  // A reader that went away (`isula logs | head`) ends the command quietly, as upstream's client.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
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
  const { runCommand } = await import('./cli.js');
  return runCommand(path, argv.slice(path.length));
}
