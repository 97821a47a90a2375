import { setTimeout as sleep } from 'node:timers/promises';
import { findIsulaCommand } from '@isula/argv';
import { containerStats, type ContainerStats } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { renderStats } from '../render/stats';

export default class StatsCommand extends IsulaCommand {
  static override paths = [['stats']];
  static override spec = findIsulaCommand('stats')!;

  protected async run(ctx: CommandContext) {
    const noStream = ctx.options['no-stream'] === true;
    const all = ctx.options.all === true;
    // The screen is cleared and the header highlighted on a terminal only (upstream always does).
    const terminal = (ctx.stdout as NodeJS.WriteStream).isTTY === true;
    let previous: ContainerStats[] | undefined;
    for (;;) {
      const samples = await containerStats(ctx.client(), { containers: ctx.args, all });
      ctx.stdout.write(renderStats(samples, previous, terminal));
      previous = samples;
      if (noStream) return 0;
      await sleep(1000);
    }
  }
}
