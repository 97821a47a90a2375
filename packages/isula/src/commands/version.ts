import { findIsulaCommand } from '@isula/argv';
import { buildInfo } from '../build-info';
import { IsulaCommand, type CommandContext } from '../command-base';
import { renderVersion } from '../render/system';

export default class VersionCommand extends IsulaCommand {
  static override paths = [['version']];
  static override spec = findIsulaCommand('version')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 0, `isula: "version" requires 0 arguments.`);
    const server = await ctx.client().version();
    ctx.stdout.write(renderVersion(buildInfo, server));
  }
}
