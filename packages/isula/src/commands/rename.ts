import { findIsulaCommand } from '@isula/argv';
import { renameContainer } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';

export default class RenameCommand extends IsulaCommand {
  static override paths = [['rename']];
  static override spec = findIsulaCommand('rename')!;

  protected async run(ctx: CommandContext) {
    if (ctx.args.length !== 2) throw new UsageError('"rename" requires 2 arguments.', 1);
    await renameContainer(ctx.client(), ctx.args[0]!, ctx.args[1]!);
    return 0;
  }
}
