import { findIsulaCommand } from '@isula/argv';
import { DaemonError, GrpcStatus, RpcError, type IsulaClient } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';
import { renderTemplate, TemplateError } from '../render/template';

/** Whether a container lookup failed because no such container exists (then try an image). */
function notAContainer(err: unknown): boolean {
  if (err instanceof RpcError) return err.status === GrpcStatus.UNIMPLEMENTED;
  if (err instanceof DaemonError) return /Inspect invalid name|No such image or container|No such container/.test(err.message);
  return false;
}

async function inspectOne(client: IsulaClient, name: string, timeout: number): Promise<unknown> {
  try {
    return JSON.parse(await client.inspectContainer(name, timeout));
  } catch (err) {
    if (!notAContainer(err)) throw err;
  }
  try {
    return JSON.parse(await client.inspectImage(name, timeout));
  } catch (err) {
    if (err instanceof DaemonError && /^No such image/.test(err.message)) throw new UsageError(`Error: No such image or container:${name}`);
    throw err;
  }
}

export default class InspectCommand extends IsulaCommand {
  static override paths = [['inspect']];
  static override spec = findIsulaCommand('inspect')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n > 0, `"inspect" requires a minimum of 1 argument.`);
    const timeout = typeof ctx.options.time === 'string' ? Number(ctx.options.time) : 120;
    if (!Number.isInteger(timeout) || timeout < 0) throw new UsageError(`Invalid value "${String(ctx.options.time)}" for flag --time`, 125);
    const format = typeof ctx.options.format === 'string' ? ctx.options.format : undefined;
    const results: unknown[] = [];
    for (const name of ctx.args) results.push(await inspectOne(ctx.client(), name, timeout));
    if (format === undefined) {
      ctx.stdout.write(`${JSON.stringify(results, null, 4)}\n`);
      return;
    }
    try {
      for (const r of results) ctx.stdout.write(`${renderTemplate(format, r)}\n`);
    } catch (err) {
      if (err instanceof TemplateError) throw new UsageError(err.message);
      throw err;
    }
  }
}
