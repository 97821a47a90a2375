import { findIsulaCommand } from '@isula/argv';
import { listVolumes } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../../command-base';

/** `isula volume ls`: `%-20s%s` per line under `DRIVER              VOLUME NAME`, or names only with -q. */
export default class VolumeLsCommand extends IsulaCommand {
  static override paths = [['volume', 'ls']];
  static override spec = findIsulaCommand('volume ls')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 0, `isula: "volume ls" requires 0 arguments.`);
    const list = await listVolumes(ctx.client());
    if (ctx.options.quiet === true) {
      ctx.stdout.write(list.map((v) => `${v.name}\n`).join(''));
      return;
    }
    const line = (driver: string, name: string) => `${driver.padEnd(20)}${name}\n`;
    ctx.stdout.write(line('DRIVER', 'VOLUME NAME') + list.map((v) => line(v.driver, v.name)).join(''));
  }
}
