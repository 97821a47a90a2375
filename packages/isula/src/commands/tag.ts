import { findIsulaCommand } from '@isula/argv';
import { IsulaCommand, type CommandContext } from '../command-base';

export default class TagCommand extends IsulaCommand {
  static override paths = [['tag']];
  static override spec = findIsulaCommand('tag')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 2, `"tag" requires exactly 2 arguments.`);
    await ctx.client().tagImage(ctx.args[0]!, ctx.args[1]!);
  }
}
