import { findIsulaCommand } from '@isula/argv';
import { AttachedStartError, ConnectError, DaemonError, inspectContainerJson, startAttached, startContainer, WaitCondition } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { describeFailure, UsageError } from '../render/errors';

/**
 * Exit status of a failed Start the way upstream's client words it (`do_client_start`): a daemon
 * answer or a lost connection is ESERVERERROR (125), refined like Docker by the message — 127 when
 * the command was not found (`executable file not found`, `no such file or directory`, `not a
 * directory`, `system cannot find the file specified`), 126 when it could not be run (`permission
 * denied`); anything else 1.
 */
export function startFailureExitCode(err: unknown): number {
  if (!(err instanceof DaemonError || err instanceof ConnectError)) return 1;
  const msg = err instanceof DaemonError ? err.message : '';
  if (/executable file not found|no such file or directory|system cannot find the file specified|not a directory/i.test(msg)) return 127;
  if (/permission denied/i.test(msg)) return 126;
  return 125;
}

/** Exit status of a failed Wait in `run`/`start -a`: 125 when the daemon answered, else 1 (upstream `client_wait`). */
function waitFailureExitCode(err: unknown): number {
  return err instanceof DaemonError ? 125 : 1;
}

/**
 * `run` (not detached) / `start -a`: start with local stdio attached (FIFOs on a unix socket host,
 * the RemoteStart stream on a tcp host), wait, and return the container's exit code; errors are
 * reported here with upstream's exit statuses.
 */
export async function startAndAttach(ctx: CommandContext, container: string, o: { stdin: boolean; autoRemove: boolean; tty?: boolean }): Promise<number> {
  try {
    return await startAttached(ctx.client(), {
      container,
      stdin: o.stdin,
      tty: o.tty,
      waitCondition: o.autoRemove ? WaitCondition.REMOVED : WaitCondition.STOPPED,
      io: { stdin: o.stdin ? process.stdin : undefined, stdout: ctx.stdout, stderr: ctx.stderr },
    });
  } catch (err) {
    if (err instanceof AttachedStartError) {
      ctx.stderr.write(`${describeFailure(err.cause).message}\n`);
      if (err.phase === 'start') return startFailureExitCode(err.cause);
      if (err.phase === 'wait') return waitFailureExitCode(err.cause);
      return 1;
    }
    throw err;
  }
}

export default class StartCommand extends IsulaCommand {
  static override paths = [['start']];
  static override spec = findIsulaCommand('start')!;

  protected async run(ctx: CommandContext) {
    if (ctx.args.length === 0) throw new UsageError('"start" requires at least 1 argument', 125);
    if (ctx.options.attach === true) {
      if (ctx.args.length > 1) throw new UsageError('You cannot start and attach multiple containers at once', 125);
      // A tty container gets the local window size (errors here are left to Start to report).
      const tty = await inspectContainerJson(ctx.client(), ctx.args[0]!).then(
        (json) => (JSON.parse(json) as { Config?: { Tty?: boolean } }).Config?.Tty === true,
        () => false,
      );
      return startAndAttach(ctx, ctx.args[0]!, { stdin: false, autoRemove: false, tty });
    }
    // Upstream prints nothing for a detached start.
    let failed = false;
    for (const name of ctx.args) {
      try {
        await startContainer(ctx.client(), name);
      } catch (err) {
        failed = true;
        ctx.stderr.write(`${describeFailure(err).message}\n`);
      }
    }
    return failed ? 1 : 0;
  }
}
