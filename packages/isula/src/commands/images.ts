import { findIsulaCommand } from '@isula/argv';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';
import { columns, humanSizeDecimal, localTime, shortId } from '../render/format';

/** Splits `key=value` filters into the request map (one value per key, as the wire allows). */
export function parseFilters(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of values) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError(`Bad format of filter '${f}', expected name=value`);
    out[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return out;
}

export default class ImagesCommand extends IsulaCommand {
  static override paths = [['images']];
  static override spec = findIsulaCommand('images')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 0, `isula: "images" requires 0 arguments.`);
    const filters = parseFilters((ctx.options.filter as string[] | undefined) ?? []);
    const list = await ctx.client().listImages(filters);
    const created = (i: (typeof list)[number]) => Number(i.createdAt?.seconds ?? 0n) * 1e9 + (i.createdAt?.nanos ?? 0);
    list.sort((a, b) => created(b) - created(a));
    if (ctx.options.quiet === true) {
      ctx.stdout.write(list.map((i) => `${shortId(i.target?.digest ?? '')}\n`).join(''));
      return;
    }
    const rows = list.map((i) => {
      const name = i.name;
      const tagAt = name.lastIndexOf(':');
      const hasTag = name !== '' && tagAt > name.lastIndexOf('/');
      const repo = name === '' ? '<none>' : hasTag ? name.slice(0, tagAt) : name;
      const tag = name === '' || !hasTag ? '<none>' : name.slice(tagAt + 1);
      return [repo, tag, shortId(i.target?.digest ?? ''), localTime(Number(i.createdAt?.seconds ?? 0n)), humanSizeDecimal(i.target?.size ?? 0)];
    });
    ctx.stdout.write(columns(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows, [30, 10, 20, 20, 10]));
  }
}
