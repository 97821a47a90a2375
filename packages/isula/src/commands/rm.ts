import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { findIsulaCommand } from '@isula/argv';
import { removeContainer } from '@isula/client';
import { CLIENT_RUN_DIR } from '@isula/protocol';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';
import { forEachName } from './stop';

/** Leftover client FIFO directories of a removed container (upstream `delete_console_fifo`), best effort. */
function removeClientFifos(name: string): void {
  if (name === '' || name.includes('/') || name === '.' || name === '..') return;
  try {
    rmSync(join(CLIENT_RUN_DIR, name), { recursive: true, force: true });
  } catch {
    /* not ours to fail on */
  }
}

export default class RmCommand extends IsulaCommand {
  static override paths = [['rm']];
  static override spec = findIsulaCommand('rm')!;

  protected async run(ctx: CommandContext) {
    if (ctx.args.length === 0) throw new UsageError(`"isula rm" requires at least 1 argument(s).\nSee 'isula rm --help'.`, 1);
    const force = ctx.options.force === true;
    const volumes = ctx.options.volumes === true;
    return forEachName(ctx, ctx.args, async (name) => {
      await removeContainer(ctx.client(), name, { force, volumes });
      removeClientFifos(name);
    });
  }
}
