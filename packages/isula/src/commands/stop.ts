import { findIsulaCommand } from '@isula/argv';
import { stopContainer } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { int32Flag } from '../create/values';
import { describeFailure, UsageError } from '../render/errors';

/**
 * Runs `action` for each name in turn as upstream's multi-container commands do: the name is printed
 * on success (when `echo`), the daemon's error on failure; exit 1 if any failed.
 */
export async function forEachName(ctx: CommandContext, names: string[], action: (name: string) => Promise<void>, echo = true): Promise<number> {
  let failed = false;
  for (const name of names) {
    try {
      await action(name);
      if (echo) ctx.stdout.write(`${name}\n`);
    } catch (err) {
      failed = true;
      ctx.stderr.write(`${describeFailure(err).message}\n`);
    }
  }
  return failed ? 1 : 0;
}

/** `-t/--time` (upstream `command_convert_int`), default 10. */
export function timeOption(ctx: CommandContext): number {
  const t = ctx.options.time;
  return typeof t === 'string' ? int32Flag('time', t) : 10;
}

export default class StopCommand extends IsulaCommand {
  static override paths = [['stop']];
  static override spec = findIsulaCommand('stop')!;

  protected async run(ctx: CommandContext) {
    const force = ctx.options.force === true;
    let timeout = timeOption(ctx);
    if (force) timeout = 0;
    if (ctx.args.length === 0) throw new UsageError('Stop requires minimum of 1 container name', 125);
    return forEachName(ctx, ctx.args, (name) => stopContainer(ctx.client(), name, { force, timeout }));
  }
}
