import { join } from 'node:path';
import type { DaemonConfig, DaemonConstants } from '../config';
import { AuthStore } from '../image/auths';
import { Images } from '../image/images';
import { Puller } from '../image/pull';
import { plainHttpMirrors } from '../image/reference';
import type { RegistryClient } from '../image/registry/client';
import { ImageStore } from '../image/store';
import type { DaemonLogger } from '../log/logger';
import { MetadataDb } from '../metadata/db';
import { createDriver, type GraphDriver } from '../storage/driver';
import { LayerStore } from '../storage/layer-store';
import { buildInfo } from '../system/build-info';
import { Containers } from '../container/containers';
import { EventBus } from '../container/events/bus';
import { ContainerStore } from '../container/store';
import { capabilityMask, hardLimits } from '../os/limits';
import { capabilitiesFromMask } from '../container/spec';
import { Volumes } from '../volume/volumes';

/** The stateful domains, opened once at boot in dependency order and closed in reverse. */
export interface Engine {
  meta: MetadataDb;
  driver: GraphDriver;
  layers: LayerStore;
  images: Images;
  puller: Puller;
  registry: Registry;
  auths: AuthStore;
  volumes: Volumes;
  events: EventBus;
  containers: Containers;
  close(): Promise<void>;
}

export interface EngineOptions {
  config: DaemonConfig;
  constants: DaemonConstants;
  tmpdir: string;
  logger: DaemonLogger;
}

export async function openEngine({ config, constants, tmpdir, logger }: EngineOptions): Promise<Engine> {
  // The driver checks its options first: a refused option leaves no database behind.
  const driver = await createDriver(config.storageDriver, { graph: config.graph, runDir: config.state, options: config.storageOpts, logger });
  const meta = MetadataDb.open(join(config.graph, 'isulad.db'));
  // A start that fails past this point leaves no open database and no mount of the storage home.
  let layers: LayerStore;
  try {
    layers = await LayerStore.open({ graph: config.graph, state: config.state, driver, db: meta, tmpdir, logger });
  } catch (err) {
    await driver.cleanup().catch(() => undefined);
    meta.close();
    throw err;
  }
  const store = new ImageStore(meta);
  // Images refuse removal while a container uses them; the container store is opened right after.
  let containerStore: ContainerStore | undefined;
  const images = new Images({ store, layers, constants, tmpdir, logger, usedBy: (imageId) => containerStore?.usingImage(imageId)?.id });
  const auths = new AuthStore(join(config.graph, 'auths'));
  // The registry client (undici) loads on the first pull or login: most daemon starts never need it.
  let client: Promise<RegistryClient> | undefined;
  const registry = lazyRegistry(
    () =>
      (client ??= import('../image/registry/client.js').then(
        ({ RegistryClient: Client }) =>
          new Client({
            // http:// mirrors can only be reached over plain http.
            insecureRegistries: [...config.insecureRegistries, ...plainHttpMirrors(config.registryMirrors)],
            constants,
            skipVerifyEnforce: config.insecureSkipVerifyEnforce,
            certsDir: '/etc/isulad/certs.d',
            credentials: (host) => auths.get(host),
            logger,
            userAgent: `isulad/${buildInfo().version}`,
          }),
      )),
  );
  const puller = new Puller({ images, layers, registry, constants, mirrors: config.registryMirrors, logger });
  const volumes = await Volumes.open({ db: meta, root: join(config.graph, 'volumes'), logger });
  containerStore = new ContainerStore(meta);
  const events = new EventBus();
  const containers = new Containers({ store: containerStore, images, layers, volumes, events, config, logger, hardLimits: await hardLimits(), hostCapabilities: capabilitiesFromMask(await capabilityMask()) });
  return {
    meta,
    driver,
    layers,
    images,
    puller,
    registry,
    auths,
    volumes,
    events,
    containers,
    async close() {
      // Containers outlive the daemon: their rootfs mounts stay, the next boot re-attaches.
      const keep = containers.shutdown();
      if (client) await (await client).close();
      await driver.cleanup((id) => keep.has(id));
      meta.close();
    },
  };
}

/** The registry calls the image domain makes, forwarded to a client created on first use. */
export type Registry = Pick<RegistryClient, 'resolve' | 'fetchBlob' | 'checkLogin'>;

function lazyRegistry(get: () => Promise<RegistryClient>): Registry {
  return {
    resolve: async (...args) => (await get()).resolve(...args),
    fetchBlob: async (...args) => (await get()).fetchBlob(...args),
    checkLogin: async (...args) => (await get()).checkLogin(...args),
  };
}
