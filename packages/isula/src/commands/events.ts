import { findIsulaCommand } from '@isula/argv';
import { containerEvents, type ContainerEvent } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { describeFailure, UsageError } from '../render/errors';
import { eventLine } from '../render/logs';
import { localNanoTime, parseCliTime, type Instant } from '../render/time';

function cliTime(text: unknown, which: 'since' | 'until'): Instant | undefined {
  if (typeof text !== 'string') return undefined;
  const t = parseCliTime(text);
  if (!t) throw new UsageError(`Failed to get ${which} timestamp`, 1);
  return t;
}

const toTimestamp = (t: Instant | undefined) => (t ? { seconds: BigInt(t.seconds), nanos: t.nanos } : undefined);

/** `<local time with nanoseconds> <opt> <id> (k=v, ...)`; `-` when the event has no time (no seconds, as upstream). */
export function formatEvent(e: ContainerEvent): string {
  const ts = e.timestamp;
  const time = ts && ts.seconds !== 0n ? localNanoTime({ seconds: Number(ts.seconds), nanos: ts.nanos }) : '-';
  return eventLine(time, e.opt, e.id, e.annotations);
}

export default class EventsCommand extends IsulaCommand {
  static override paths = [['events']];
  static override spec = findIsulaCommand('events')!;

  protected async run(ctx: CommandContext) {
    const since = cliTime(ctx.options.since, 'since');
    const until = cliTime(ctx.options.until, 'until');
    const id = typeof ctx.options.name === 'string' ? ctx.options.name : undefined;
    // Runs until the daemon ends the stream (`--until` passed) or the process is interrupted.
    try {
      await containerEvents(ctx.client(), { id, since: toTimestamp(since), until: toTimestamp(until) }, (e) => ctx.stdout.write(formatEvent(e)));
    } catch (err) {
      const message = describeFailure(err).message.replace(/^Error response from daemon: /, '');
      ctx.stderr.write(`Failed to get container events, ${message}\n`);
      return 1;
    }
    return 0;
  }
}
