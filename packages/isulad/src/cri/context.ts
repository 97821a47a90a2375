import type { DaemonConfig } from '../config';
import type { Containers } from '../container/containers';
import type { EventBus } from '../container/events/bus';
import type { ContainerRecord } from '../container/types';
import type { Images } from '../image/images';
import type { DaemonLogger } from '../log/logger';
import type { CniManager } from '../network/cni';
import { notFound } from './errors';
import { isCriContainer, isSandbox, SANDBOX_ID } from './labels';

/** What the CRI runtime service works with: the container and image domains, and CNI when configured. */
export interface CriDeps {
  box: Containers;
  images: Pick<Images, 'usable'>;
  events: EventBus;
  config: DaemonConfig;
  logger: DaemonLogger;
  /** Set when `network-plugin` is `cni`. */
  cni?: CniManager;
}

/** Finds CRI objects among the container records (in-flight creates are not listed). */
export class CriIndex {
  constructor(private readonly box: Containers) {}

  private find(ref: string): ContainerRecord | undefined {
    if (ref === '') return undefined;
    try {
      return this.box.find(ref);
    } catch {
      return undefined;
    }
  }

  sandbox(ref: string): ContainerRecord | undefined {
    const rec = this.find(ref);
    return rec && isSandbox(rec) ? rec : undefined;
  }

  container(ref: string): ContainerRecord | undefined {
    const rec = this.find(ref);
    return rec && isCriContainer(rec) ? rec : undefined;
  }

  mustSandbox(ref: string): ContainerRecord {
    const rec = this.sandbox(ref);
    if (!rec) throw notFound(`pod sandbox ${JSON.stringify(ref)} not found`);
    return rec;
  }

  mustContainer(ref: string): ContainerRecord {
    const rec = this.container(ref);
    if (!rec) throw notFound(`container ${JSON.stringify(ref)} not found`);
    return rec;
  }

  sandboxes(): ContainerRecord[] {
    return this.box.store.all().filter((r) => !r.state.creating && isSandbox(r));
  }

  containers(): ContainerRecord[] {
    return this.box.store.all().filter((r) => !r.state.creating && isCriContainer(r));
  }

  /** The containers of a pod. */
  containersOf(sandboxId: string): ContainerRecord[] {
    return this.containers().filter((r) => r.config.Annotations?.[SANDBOX_ID] === sandboxId);
  }
}

export function isRunning(rec: ContainerRecord): boolean {
  return (rec.state.status === 'running' || rec.state.status === 'paused') && rec.state.pid > 0;
}
