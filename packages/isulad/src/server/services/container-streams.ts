import { ErrorCode, timestampToDate, type ContainerService } from '@isula/protocol';
import type { Containers } from '../../container/containers';
import { ContainerError } from '../../container/errors';
import { toWireEvent, type EventBus } from '../../container/events/bus';
import { readContainerLogs } from '../../container/logs/json-file';
import type { ServerStreamImpl } from '../grpc-adapter';

function parseTime(value: string): Date | undefined {
  if (value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return new Date(Number(value) * 1000);
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** containers.ContainerService server streams: Logs, Events (copies live in container-copy.ts). */
export function containerStreams(box: Containers, events: EventBus): ServerStreamImpl<typeof ContainerService> {
  return {
    Logs: async (req, send, ctx) => {
      const rec = box.find(req.id);
      // Upstream's text for a container without a console log; its client turns it into a warning.
      if (rec.log.disabled) throw new ContainerError('disable console log', ErrorCode.INPUT);
      if (rec.log.driver !== 'json-file') throw new ContainerError(`configured logging driver does not support reading: ${rec.log.driver}`, ErrorCode.INPUT);
      const abort = new AbortController();
      const timer = setInterval(() => ctx.cancelled() && abort.abort(), 500);
      // Follow ends when the container stops (or is removed), after the rest of its output.
      const active = rec.state.status === 'running' || rec.state.status === 'paused';
      const stopWhen = req.follow && active ? box.wait(rec.id, 0).then(() => undefined, () => undefined) : Promise.resolve();
      try {
        for await (const e of readContainerLogs(rec.log.path, {
          tail: Number(req.tail),
          since: parseTime(req.since),
          until: parseTime(req.until),
          follow: req.follow && active,
          signal: abort.signal,
          stopWhen,
        })) {
          if (ctx.cancelled()) break;
          await send({ data: e.data, stream: e.stream, time: e.time });
        }
      } finally {
        clearInterval(timer);
        abort.abort();
      }
    },
    Events: async (req, send, ctx) => {
      const abort = new AbortController();
      const timer = setInterval(() => ctx.cancelled() && abort.abort(), 500);
      const id = req.id === '' ? undefined : (() => {
        try {
          return box.find(req.id).id;
        } catch {
          return req.id;
        }
      })();
      try {
        for await (const ev of events.subscribe({ since: req.since ? timestampToDate(req.since) : undefined, until: req.until ? timestampToDate(req.until) : undefined, id }, abort.signal)) {
          await send(toWireEvent(ev));
          if (ctx.cancelled()) break;
        }
      } finally {
        clearInterval(timer);
        abort.abort();
      }
    },
  };
}
