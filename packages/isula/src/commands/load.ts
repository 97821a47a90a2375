import { resolve } from 'node:path';
import { findIsulaCommand } from '@isula/argv';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';

export default class LoadCommand extends IsulaCommand {
  static override paths = [['load']];
  static override spec = findIsulaCommand('load')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 0, `isula: "load" requires 0 arguments.`);
    const input = ctx.options.input;
    if (typeof input !== 'string') throw new UsageError('missing image input, use -i,--input option');
    const type = ctx.options.type;
    if (typeof type === 'string' && type !== 'docker' && type !== 'embedded') {
      throw new UsageError(`Invalid image type: image type must be embedded or docker, got ${type}`);
    }
    // The daemon opens the file itself, so it gets an absolute path.
    const file = resolve(input);
    await ctx.client().loadImage(file, typeof ctx.options.tag === 'string' ? ctx.options.tag : '');
    ctx.stdout.write(`Load image from "${file}" success\n`);
  }
}
