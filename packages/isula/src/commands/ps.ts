import { findIsulaCommand } from '@isula/argv';
import { listContainers } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { safeUint32 } from '../create/numbers';
import { UsageError } from '../render/errors';
import { parsePsFormat, PsFormatError, renderPs, renderPsQuiet, sortForPs, type PsFormat } from '../render/ps';
import { parseFilters } from './images';

export default class PsCommand extends IsulaCommand {
  static override paths = [['ps']];
  static override spec = findIsulaCommand('ps')!;

  protected async run(ctx: CommandContext) {
    const o = ctx.options;
    // `-n N`: the N most recently created containers, in any state (`-l` = `-n 1`).
    let last: number | undefined;
    if (typeof o.last === 'string') {
      const r = safeUint32(o.last);
      if (!r.ok) throw new UsageError(`${r.error} - Invalid value "${o.last}" for flag --last`, 125);
      last = Number(r.value);
    }
    if (o.latest === true) last = 1;
    if (ctx.args.length > 0) throw new UsageError('isula: "ps" requires 0 arguments.', 1);
    let format: PsFormat;
    try {
      format = parsePsFormat(typeof o.format === 'string' ? o.format : undefined);
    } catch (err) {
      if (err instanceof PsFormatError) throw new UsageError(`${err.message}\nFailed to get filter field`, 1);
      throw err;
    }
    const filters = parseFilters((o.filter as string[] | undefined) ?? []);
    let list = await listContainers(ctx.client(), { all: o.all === true || (last !== undefined && last > 0), filters });
    if (last !== undefined && last > 0) {
      const created = (c: (typeof list)[number]) => BigInt(c.created);
      list = [...list].sort((a, b) => (created(b) > created(a) ? 1 : created(b) < created(a) ? -1 : 0)).slice(0, last);
    }
    list = sortForPs(list);
    ctx.stdout.write(o.quiet === true ? renderPsQuiet(list) : renderPs(list, { noTrunc: o['no-trunc'] === true, format }));
    return 0;
  }
}
