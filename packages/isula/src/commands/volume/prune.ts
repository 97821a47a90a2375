import { findIsulaCommand } from '@isula/argv';
import { pruneVolumes } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../../command-base';

export const PRUNE_WARNING = 'WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ';

/** One line of `input` (without its end of line); empty at end of input. */
export function readLine(input: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      input.off('data', onData);
      input.off('end', done);
      input.off('error', done);
      input.pause();
      const nl = text.indexOf('\n');
      resolve((nl >= 0 ? text.slice(0, nl) : text).replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.includes('\n')) done();
    };
    input.on('data', onData);
    input.once('end', done);
    input.once('error', done);
    input.resume();
  });
}

/** `y` or `yes`, any case, as Docker accepts. */
export const confirmed = (answer: string) => /^(y|yes)$/i.test(answer.trim());

/** `isula volume prune [-f]`: asks first unless -f; lists what the daemon deleted. */
export default class VolumePruneCommand extends IsulaCommand {
  static override paths = [['volume', 'prune']];
  static override spec = findIsulaCommand('volume prune')!;

  /** Where the answer to the prompt is read; process.stdin unless a test sets it. */
  static stdin: NodeJS.ReadableStream | undefined;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 0, `isula: "volume prune" requires 0 arguments.`);
    if (ctx.options.force !== true) {
      ctx.stdout.write(PRUNE_WARNING);
      if (!confirmed(await readLine(VolumePruneCommand.stdin ?? process.stdin))) return 0;
    }
    const removed = await pruneVolumes(ctx.client());
    if (removed.length > 0) ctx.stdout.write(`Deleted Volumes:\n${removed.map((n) => `${n}\n`).join('')}`);
    return 0;
  }
}
