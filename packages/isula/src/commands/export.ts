import { resolve } from 'node:path';
import { findIsulaCommand } from '@isula/argv';
import { exportContainer } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { describeFailure, UsageError } from '../render/errors';

export default class ExportCommand extends IsulaCommand {
  static override paths = [['export']];
  static override spec = findIsulaCommand('export')!;

  protected async run(ctx: CommandContext) {
    if (ctx.args.length !== 1) throw new UsageError('Export requires exactly 1 container name', 125);
    const output = ctx.options.output;
    if (typeof output !== 'string') throw new UsageError('Missing output file, use -o,--output option', 125);
    // The daemon writes the file: a relative path is taken from the client's working directory.
    const file = output.startsWith('/') ? output : resolve(process.cwd(), output);
    const name = ctx.args[0]!;
    try {
      await exportContainer(ctx.client(), name, file);
    } catch (err) {
      ctx.stderr.write(`${describeFailure(err).message}\n`);
      ctx.stderr.write(`Container "${name}" export failed\n`);
      return 1;
    }
    return 0;
  }
}
