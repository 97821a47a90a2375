import { findIsulaCommand } from '@isula/argv';
import { containerLogs, DaemonError, RpcError } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';
import { logLine, parseTail } from '../render/logs';

export default class LogsCommand extends IsulaCommand {
  static override paths = [['logs']];
  static override spec = findIsulaCommand('logs')!;

  protected async run(ctx: CommandContext) {
    if (ctx.args.length !== 1) throw new UsageError('Logs needs one container name', 1);
    const name = ctx.args[0]!;
    const timestamps = ctx.options.timestamps === true;
    try {
      await containerLogs(
        ctx.client(),
        { id: name, follow: ctx.options.follow === true, tail: parseTail(ctx.options.tail as string | undefined), timestamps },
        (e) => {
          const out = e.stream === 'stderr' ? ctx.stderr : e.stream === 'stdout' ? ctx.stdout : undefined;
          out?.write(logLine(e, timestamps));
        },
      );
    } catch (err) {
      const msg = err instanceof DaemonError ? err.message : err instanceof RpcError ? err.details : '';
      if (msg.startsWith('disable console log')) {
        ctx.stdout.write(`[WARNING]: Container ${name} disable console log!\n`);
        return 0;
      }
      throw err;
    }
    return 0;
  }
}
