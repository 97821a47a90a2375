import { findIsulaCommand } from '@isula/argv';
import { containerTop, inspectContainerJson } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';

export default class TopCommand extends IsulaCommand {
  static override paths = [['top']];
  static override spec = findIsulaCommand('top')!;

  protected async run(ctx: CommandContext) {
    if (ctx.args.length < 1) throw new UsageError(`"isula top" requires at least 1 argument(s).\nSee 'isula top --help'.`, 125);
    const [name, ...psArgs] = ctx.args as [string, ...string[]];
    const inspect = JSON.parse(await inspectContainerJson(ctx.client(), name)) as { State?: { Running?: boolean; Restarting?: boolean } };
    if (inspect.State && !inspect.State.Running) throw new UsageError('You cannot attach to a stopped container, start it first', 1);
    if (inspect.State?.Restarting) throw new UsageError('You cannot attach to a restarting container, wait until it is running', 1);
    const { titles, processes } = await containerTop(ctx.client(), name, psArgs);
    let out = titles !== '' ? `${titles}\n` : '';
    for (const p of processes) out += `${p}\n`;
    ctx.stdout.write(out);
    return 0;
  }
}
