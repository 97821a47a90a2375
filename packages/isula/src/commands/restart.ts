import { findIsulaCommand } from '@isula/argv';
import { restartContainer } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';
import { forEachName, timeOption } from './stop';

export default class RestartCommand extends IsulaCommand {
  static override paths = [['restart']];
  static override spec = findIsulaCommand('restart')!;

  protected async run(ctx: CommandContext) {
    const timeout = timeOption(ctx);
    if (ctx.args.length === 0) throw new UsageError('Restart requires at least 1 container names', 125);
    return forEachName(ctx, ctx.args, (name) => restartContainer(ctx.client(), name, timeout));
  }
}
