/**
 * GetContainerEvents: the container domain's events bus mapped to CRI ContainerEventResponse
 * (create → CREATED, start → STARTED, die → STOPPED, destroy → DELETED), for pod sandboxes and
 * CRI containers only, each with the pod's status and its containers' statuses as they are when
 * the event is sent.
 */
import { cri, type DeepPartial } from '@isula/cri-api';
import type { BusEvent, EventBus } from '../container/events/bus';
import type { CriIndex } from './context';
import { containerMeta, criType, networkState, sandboxMeta, SANDBOX_ID, TYPE_CONTAINER, TYPE_SANDBOX } from './labels';
import { containerStatus, sandboxStatus } from './status';

const { ContainerEventType } = cri;

export const EVENT_TYPES: Record<string, cri.ContainerEventType> = {
  create: ContainerEventType.CONTAINER_CREATED_EVENT,
  start: ContainerEventType.CONTAINER_STARTED_EVENT,
  die: ContainerEventType.CONTAINER_STOPPED_EVENT,
  destroy: ContainerEventType.CONTAINER_DELETED_EVENT,
};

/** How long the sandbox of a removed container is remembered, for its DELETED event. */
const FORGET_AFTER_MS = 60_000;

/**
 * Which pod a container id belongs to: read from the record while it exists and remembered, so
 * that the DELETED event (sent after the record is gone) still names its pod.
 */
export class PodOf {
  private readonly known = new Map<string, string>();

  constructor(private readonly index: CriIndex) {}

  lookup(id: string): string | undefined {
    const rec = this.index.sandbox(id) ?? this.index.container(id);
    if (rec) {
      const type = criType(rec);
      const pod = type === TYPE_SANDBOX ? rec.id : type === TYPE_CONTAINER ? rec.config.Annotations?.[SANDBOX_ID] : undefined;
      if (pod !== undefined) this.known.set(rec.id, pod);
      return pod;
    }
    return this.known.get(id);
  }

  remember(id: string, pod: string): void {
    this.known.set(id, pod);
  }

  forgetLater(id: string): void {
    setTimeout(() => this.known.delete(id), FORGET_AFTER_MS).unref();
  }
}

export function criEvent(ev: BusEvent, index: CriIndex, pods: PodOf): DeepPartial<cri.ContainerEventResponse> | undefined {
  if (ev.type !== 'container') return undefined;
  const type = EVENT_TYPES[ev.opt];
  if (type === undefined) return undefined;
  const pod = pods.lookup(ev.id);
  if (pod === undefined) return undefined;
  if (type === ContainerEventType.CONTAINER_DELETED_EVENT) pods.forgetLater(ev.id);
  const sb = index.sandbox(pod);
  const podSandboxStatus = sb ? sandboxStatus(sb, sandboxMeta(sb), networkState(sb)) : { id: pod };
  return {
    containerId: ev.id,
    containerEventType: type,
    createdAt: BigInt(ev.time.getTime()) * 1_000_000n,
    podSandboxStatus,
    containersStatuses: sb ? index.containersOf(sb.id).map((c) => containerStatus(c, containerMeta(c))) : [],
  };
}

/** Streams CRI events until the client goes away. */
export async function streamEvents(bus: EventBus, index: CriIndex, pods: PodOf, send: (m: DeepPartial<cri.ContainerEventResponse>) => Promise<void>, cancelled: () => boolean): Promise<void> {
  const abort = new AbortController();
  const timer = setInterval(() => cancelled() && abort.abort(), 500);
  try {
    for await (const ev of bus.subscribe({}, abort.signal)) {
      if (cancelled()) break;
      const out = criEvent(ev, index, pods);
      if (out) await send(out);
    }
  } finally {
    clearInterval(timer);
    abort.abort();
  }
}
