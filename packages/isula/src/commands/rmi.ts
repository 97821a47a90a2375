import { findIsulaCommand } from '@isula/argv';
import { IsulaCommand, type CommandContext } from '../command-base';
import { describeFailure } from '../render/errors';

export default class RmiCommand extends IsulaCommand {
  static override paths = [['rmi']];
  static override spec = findIsulaCommand('rmi')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n > 0, `isula: "rmi" requires at least 1 argument.`);
    let failed = false;
    for (const name of ctx.args) {
      try {
        await ctx.client().removeImage(name, ctx.options.force === true);
        ctx.stdout.write(`Image "${name}" removed\n`);
      } catch (err) {
        failed = true;
        ctx.stderr.write(`${describeFailure(err).message}\n`);
      }
    }
    return failed ? 1 : 0;
  }
}
