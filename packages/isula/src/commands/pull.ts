import { findIsulaCommand } from '@isula/argv';
import { IsulaCommand, type CommandContext } from '../command-base';
import { describeFailure } from '../render/errors';
import { PullProgressView } from '../render/pull-progress';

export default class PullCommand extends IsulaCommand {
  static override paths = [['pull']];
  static override spec = findIsulaCommand('pull')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 1, `pull requires 1 argument.`);
    const name = ctx.args[0]!;
    // upstream: a server-side pull failure is ESERVERERROR
    return (await pullWithProgress(ctx, name)) ? 0 : 125;
  }
}

/**
 * Pulls `name` as `isula pull` shows it (progress and `Image "<ref>" pulling`/`pulled` on stderr);
 * false after printing the error. `create`/`run` use it for images they do not have.
 */
export async function pullWithProgress(ctx: CommandContext, name: string): Promise<boolean> {
  const stderr = ctx.stderr as NodeJS.WriteStream;
  stderr.write(`Image "${name}" pulling\n`);
  const view = new PullProgressView(stderr);
  let chain = Promise.resolve();
  try {
    await ctx.client().pullImage(name, (p) => {
      chain = chain.then(() => view.update(p as Parameters<PullProgressView['update']>[0]));
    });
    await chain;
  } catch (err) {
    await chain.catch(() => undefined);
    view.stop();
    stderr.write(`${describeFailure(err).message}\n`);
    return false;
  }
  view.stop();
  stderr.write(`Image "${name}" pulled\n`);
  return true;
}
