import { resolve } from 'node:path';
import { findIsulaCommand } from '@isula/argv';
import { IsulaCommand, type CommandContext } from '../command-base';

export default class ImportCommand extends IsulaCommand {
  static override paths = [['import']];
  static override spec = findIsulaCommand('import')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 2, `"import" requires exactly 2 arguments.`);
    const id = await ctx.client().importImage(resolve(ctx.args[0]!), ctx.args[1]!);
    ctx.stdout.write(`sha256:${id}\n`);
  }
}
