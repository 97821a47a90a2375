import { findIsulaCommand } from '@isula/argv';
import { ConnectError, createContainer, DaemonError, type IsulaClient } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { buildCreateRequest, type CreateRequestParts } from '../create';
import { describeFailure } from '../render/errors';
import { pullWithProgress } from './pull';

/** A failure of the Create RPC (or of the pull it needed), already reported on stderr. */
export class CreateFailed extends Error {
  constructor(
    /** Exit status `run` uses (upstream: 125 for daemon answers and connection errors, else 1). */
    readonly runExitCode: number,
  ) {
    super('create failed');
    this.name = 'CreateFailed';
  }
}

/**
 * Pulls `image` the way `isula pull` does (progress on stderr, `Image "<ref>" pulling`/`pulled`).
 * Throws CreateFailed after reporting the error.
 */
export async function pullForCreate(ctx: CommandContext, image: string): Promise<void> {
  if (!(await pullWithProgress(ctx, image))) throw new CreateFailed(125);
}

function runExitCodeOf(err: unknown): number {
  // upstream do_client_create: ERR_INPUT and any daemon answer → EINVALIDARGS/ESERVERERROR (125), a
  // lost connection too; anything else ECOMMON.
  return err instanceof DaemonError || err instanceof ConnectError ? 125 : 1;
}

/**
 * Create with upstream's pull behaviour: `--pull always` pulls first; `missing` pulls and retries
 * once when the daemon answers "No such image"; `never` just reports. Resolves with the new id.
 */
export async function createWithPull(ctx: CommandContext, parts: CreateRequestParts): Promise<string> {
  const client: IsulaClient = ctx.client();
  for (const w of parts.warnings) ctx.stderr.write(`${w}\n`);
  const request = {
    name: parts.name,
    image: parts.image,
    rootfs: parts.rootfs,
    runtime: parts.runtime,
    hostConfig: parts.hostConfig,
    config: parts.config,
  };
  if (parts.pull === 'always' && parts.rootfs === undefined) await pullForCreate(ctx, parts.image);
  try {
    return await createContainer(client, request);
  } catch (err) {
    const missing = err instanceof DaemonError && err.message.includes('No such image');
    if (!missing || parts.pull !== 'missing' || parts.rootfs !== undefined) {
      ctx.stderr.write(`${describeFailure(err).message}\n`);
      throw new CreateFailed(runExitCodeOf(err));
    }
  }
  ctx.stderr.write(`Unable to find image '${parts.image}' locally\n`);
  await pullForCreate(ctx, parts.image);
  try {
    return await createContainer(client, request);
  } catch (err) {
    ctx.stderr.write(`${describeFailure(err).message}\n`);
    throw new CreateFailed(runExitCodeOf(err));
  }
}

export default class CreateCommand extends IsulaCommand {
  static override paths = [['create']];
  static override spec = findIsulaCommand('create')!;

  protected async run(ctx: CommandContext) {
    const parts = buildCreateRequest(ctx.options, ctx.args, process.env, { command: 'create' });
    try {
      const id = await createWithPull(ctx, parts);
      ctx.stdout.write(`${id}\n`);
      return 0;
    } catch (err) {
      // upstream: any create failure exits ECOMMON.
      if (err instanceof CreateFailed) return 1;
      throw err;
    }
  }
}
