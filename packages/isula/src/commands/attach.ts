import { findIsulaCommand } from '@isula/argv';
import { attachContainer, enterRawMode, forwardWindowSize, inspectContainerJson, waitContainer, WaitCondition } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { requireRootFor, UsageError } from '../render/errors';

/** What attach needs of the container's inspect JSON. */
interface InspectView {
  Id?: string;
  State?: { Running?: boolean; Paused?: boolean; Restarting?: boolean };
  Config?: { Tty?: boolean; OpenStdin?: boolean };
}

/**
 * `isula attach CONTAINER`: inspect first (upstream's refusals for a stopped, paused or restarting
 * container), then the Attach stream: stdin when the container keeps it open, stdout and stderr;
 * with a tty the local terminal is raw, its size is forwarded and ctrl-p ctrl-q detaches (exit 0,
 * the container runs on). When the container exits while attached, its exit code is ours.
 */
export default class AttachCommand extends IsulaCommand {
  static override paths = [['attach']];
  static override spec = findIsulaCommand('attach')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 1, '"isula attach" requires exactly 1 argument(s).');
    requireRootFor('attach');
    const name = ctx.args[0]!;
    const client = ctx.client();
    const info = JSON.parse(await inspectContainerJson(client, name)) as InspectView;
    if (info.State?.Paused) throw new UsageError('You cannot attach to a paused container, unpause it first');
    if (info.State?.Restarting) throw new UsageError('You cannot attach to a restarting container, wait until it is running');
    if (!info.State?.Running) throw new UsageError('You cannot attach to a stopped container, start it first');
    const id = info.Id || name;
    const tty = info.Config?.Tty === true;
    const stdin = info.Config?.OpenStdin === true;

    const raw = tty && stdin ? enterRawMode(process.stdin) : undefined;
    const stopResize = tty ? forwardWindowSize(client, id, ctx.stdout) : undefined;
    try {
      const session = attachContainer(
        client,
        id,
        { stdin, stdout: true, stderr: true, detachKeys: tty && stdin },
        { stdin: stdin ? process.stdin : undefined, stdout: ctx.stdout, stderr: ctx.stderr },
      );
      const end = await session.done;
      if (end.reason === 'detached') return 0;
    } finally {
      stopResize?.();
      raw?.restore();
    }
    // The container's output ended: it exited (or is about to be seen so); its code is ours.
    try {
      return await waitContainer(client, id, WaitCondition.STOPPED);
    } catch {
      return 0;
    }
  }
}
