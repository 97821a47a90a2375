import { findIsulaCommand } from '@isula/argv';
import { pauseContainer } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';
import { forEachName } from './stop';

export default class PauseCommand extends IsulaCommand {
  static override paths = [['pause']];
  static override spec = findIsulaCommand('pause')!;

  protected async run(ctx: CommandContext) {
    if (ctx.args.length === 0) throw new UsageError('Pause requires at least 1 container names', 125);
    return forEachName(ctx, ctx.args, (name) => pauseContainer(ctx.client(), name));
  }
}
