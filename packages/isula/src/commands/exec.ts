import { findIsulaCommand } from '@isula/argv';
import { execAttached, execInContainer, inspectContainerJson } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { describeFailure, requireRootFor, UsageError } from '../render/errors';

/*
 * `isula exec`: inspect the container for its full id, then run the process through the SDK's
 * `execAttached` (FIFOs on a unix socket host, the RemoteExec stream on a tcp host; raw terminal
 * and window size with -t) and exit with its exit code; `-d` sends a detached Exec and returns.
 * Failures before the process runs exit 125, as upstream.
 */

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

export default class ExecCommand extends IsulaCommand {
  static override paths = [['exec']];
  static override spec = findIsulaCommand('exec')!;

  protected async run(ctx: CommandContext): Promise<number> {
    if (ctx.args.length < 2) throw new UsageError(`"isula exec" requires at least 2 argument(s).\nSee 'isula exec --help'.`, 125);
    requireRootFor('exec');
    const [name, ...argv] = ctx.args as [string, ...string[]];
    const tty = ctx.options.tty === true;
    const interactive = ctx.options.interactive === true;
    const client = ctx.client();
    const fail = (err: unknown): number => {
      ctx.stderr.write(`${describeFailure(err).message}\n`);
      return 125;
    };

    let id: string;
    try {
      id = (JSON.parse(await inspectContainerJson(client, name)) as { Id: string }).Id;
    } catch (err) {
      return fail(err);
    }
    const process_ = { argv, env: list(ctx.options.env), user: text(ctx.options.user), workdir: text(ctx.options.workdir) };
    try {
      if (ctx.options.detach === true) {
        await execInContainer(client, { containerId: id, tty, openStdin: interactive, ...process_ });
        return 0;
      }
      return await execAttached(client, {
        containerId: id,
        tty,
        ...process_,
        stdin: interactive ? process.stdin : undefined,
        stdout: ctx.stdout,
        stderr: ctx.stderr,
      });
    } catch (err) {
      return fail(err);
    }
  }
}
