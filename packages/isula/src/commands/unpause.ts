import { findIsulaCommand } from '@isula/argv';
import { resumeContainer } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';
import { forEachName } from './stop';

export default class UnpauseCommand extends IsulaCommand {
  static override paths = [['unpause']];
  static override spec = findIsulaCommand('unpause')!;

  protected async run(ctx: CommandContext) {
    // Upstream's wording (shared with pause).
    if (ctx.args.length === 0) throw new UsageError('Pause requires at least 1 container names', 125);
    return forEachName(ctx, ctx.args, (name) => resumeContainer(ctx.client(), name));
  }
}
