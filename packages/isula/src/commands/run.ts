import { findIsulaCommand } from '@isula/argv';
import { startContainer } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { buildCreateRequest } from '../create';
import { describeFailure, requireRootFor, UsageError } from '../render/errors';
import { CreateFailed, createWithPull } from './create';
import { startAndAttach, startFailureExitCode } from './start';

export default class RunCommand extends IsulaCommand {
  static override paths = [['run']];
  static override spec = findIsulaCommand('run')!;

  protected async run(ctx: CommandContext) {
    const detach = ctx.options.detach === true;
    const restart = ctx.options.restart;
    if (ctx.options.rm === true && typeof restart === 'string' && restart !== 'no') {
      // Checked before the request is built, as upstream's run_checker does.
      throw new UsageError('Conflicting options: --restart and --rm', 125);
    }
    if (ctx.options.interactive === true || ctx.options.tty === true) requireRootFor('run -i/-t');
    const parts = buildCreateRequest(ctx.options, ctx.args, process.env, { command: 'run' });
    let id: string;
    try {
      id = await createWithPull(ctx, parts);
    } catch (err) {
      if (err instanceof CreateFailed) return err.runExitCode;
      throw err;
    }
    if (detach) {
      ctx.stdout.write(`${id}\n`);
      try {
        await startContainer(ctx.client(), id);
      } catch (err) {
        ctx.stderr.write(`${describeFailure(err).message}\n`);
        return startFailureExitCode(err);
      }
      return 0;
    }
    return startAndAttach(ctx, id, { stdin: parts.config.OpenStdin === true, autoRemove: parts.hostConfig.AutoRemove === true, tty: parts.config.Tty === true });
  }
}
