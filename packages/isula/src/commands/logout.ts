import { findIsulaCommand } from '@isula/argv';
import { IsulaCommand, type CommandContext } from '../command-base';

export default class LogoutCommand extends IsulaCommand {
  static override paths = [['logout']];
  static override spec = findIsulaCommand('logout')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 1, `logout requires 1 argument.`);
    await ctx.client().logout(ctx.args[0]!);
    ctx.stdout.write('Logout Succeeded\n');
  }
}
