import { findIsulaCommand } from '@isula/argv';
import { removeVolume } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../../command-base';
import { describeFailure } from '../../render/errors';

/** `isula volume rm NAME...`: prints each name removed; every failure on stderr, exit 1 if any. */
export default class VolumeRmCommand extends IsulaCommand {
  static override paths = [['volume', 'rm']];
  static override spec = findIsulaCommand('volume rm')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n > 0, `isula: "volume rm" requires at least 1 argument.`);
    let failed = false;
    for (const name of ctx.args) {
      try {
        await removeVolume(ctx.client(), name);
        ctx.stdout.write(`${name}\n`);
      } catch (err) {
        failed = true;
        ctx.stderr.write(`${describeFailure(err).message}\n`);
      }
    }
    return failed ? 1 : 0;
  }
}
