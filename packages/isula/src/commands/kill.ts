import { findIsulaCommand } from '@isula/argv';
import { isValidSignal, killContainer, parseSignal } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';
import { forEachName } from './stop';

export default class KillCommand extends IsulaCommand {
  static override paths = [['kill']];
  static override spec = findIsulaCommand('kill')!;

  protected async run(ctx: CommandContext) {
    const text = typeof ctx.options.signal === 'string' ? ctx.options.signal : 'SIGKILL';
    // Checked before anything else, like upstream (exit ECOMMON).
    const signal = parseSignal(text);
    if (signal === undefined) throw new UsageError(`Invalid signal: ${text}`, 1);
    if (!isValidSignal(signal)) throw new UsageError(`The Linux daemon does not support signal ${signal}`, 1);
    if (ctx.args.length === 0) throw new UsageError('Kill requires at least 1 container names', 125);
    return forEachName(ctx, ctx.args, (name) => killContainer(ctx.client(), name, signal));
  }
}
