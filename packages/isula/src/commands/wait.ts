import { findIsulaCommand } from '@isula/argv';
import { waitContainer, WaitCondition } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { describeFailure, UsageError } from '../render/errors';

export default class WaitCommand extends IsulaCommand {
  static override paths = [['wait']];
  static override spec = findIsulaCommand('wait')!;

  protected async run(ctx: CommandContext) {
    if (ctx.args.length === 0) throw new UsageError('Wait requires at least 1 container names', 125);
    let failed = false;
    for (const name of ctx.args) {
      try {
        const code = await waitContainer(ctx.client(), name, WaitCondition.STOPPED);
        ctx.stdout.write(`${code >>> 0}\n`);
      } catch (err) {
        failed = true;
        ctx.stderr.write(`${describeFailure(err).message}\n`);
      }
    }
    return failed ? 1 : 0;
  }
}
