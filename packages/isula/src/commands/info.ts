import { findIsulaCommand } from '@isula/argv';
import { IsulaCommand, type CommandContext } from '../command-base';
import { renderInfo } from '../render/system';

export default class InfoCommand extends IsulaCommand {
  static override paths = [['info']];
  static override spec = findIsulaCommand('info')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 0, `isula: "info" requires 0 arguments.`);
    ctx.stdout.write(renderInfo(await ctx.client().info()));
  }
}
