/**
 * Kubernetes CRI `runtime.v1` in isulad: RuntimeService (this folder) and ImageService
 * (image-service.ts) on the daemon's gRPC server, so on every listener; the streaming server
 * (streaming/) on `websocket-server-listening-port`; CNI (network/cni) when `network-plugin` is
 * `cni`. `setupCri` wires them at boot; `close` stops what it started.
 */
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { ImageService, RuntimeService } from '@isula/cri-api';
import type { DaemonConfig, DaemonConstants } from '../config';
import type { Engine } from '../daemon/engine';
import type { DaemonLogger } from '../log/logger';
import { CniManager, parseBinDirs } from '../network/cni';
import { bindServerStream, bindUnary, grpcDefinition } from '../server/grpc-adapter';
import { criImageService } from './image-service';
import { CriRuntime } from './runtime-service';
import { StreamingServer } from './streaming';

export { CriRuntime } from './runtime-service';

/** The streaming server listens here and puts this host in its URLs: exec must not be open to the network. */
export const STREAMING_ADDRESS = '127.0.0.1';

export interface CriSetup {
  runtime: CriRuntime;
  cni?: CniManager;
  streaming: StreamingServer;
  close(): Promise<void>;
}

export interface CriSetupOptions {
  server: grpc.Server;
  engine: Engine;
  config: DaemonConfig;
  constants: DaemonConstants;
  logger: DaemonLogger;
}

/**
 * Registers RuntimeService and ImageService on `server`, loads CNI when configured and starts the
 * streaming server. A streaming port that cannot be bound is logged, not fatal (see CriRuntime.streamingError).
 */
export async function setupCri({ server, engine, config, constants, logger }: CriSetupOptions): Promise<CriSetup> {
  const cni =
    config.networkPlugin === 'cni'
      ? await CniManager.load({ confDir: config.cniConfDir, binDirs: parseBinDirs(config.cniBinDir), cacheDir: join(config.graph, 'cni', 'results') }, logger)
      : undefined;
  const runtime = new CriRuntime({ box: engine.containers, images: engine.images, events: engine.events, config, logger, cni });

  server.addService(grpcDefinition(RuntimeService), {
    ...bindUnary(RuntimeService, runtime.unary(), logger),
    ...bindServerStream(RuntimeService, runtime.streams(), logger),
  });
  server.addService(
    grpcDefinition(ImageService),
    bindUnary(ImageService, criImageService({ images: engine.images, puller: engine.puller, auths: engine.auths, registry: engine.registry, graph: config.graph, constants }), logger),
  );

  const streaming = new StreamingServer({ address: STREAMING_ADDRESS, port: config.websocketServerListeningPort, runtime: runtime.streamingRuntime, log: logger });
  try {
    await streaming.start();
    runtime.streaming = streaming;
    logger.info({ port: streaming.port, networkPlugin: config.networkPlugin || 'none' }, 'CRI runtime.v1 services registered; streaming server listening');
  } catch (err) {
    // Not fatal: everything but Exec/Attach/PortForward works without it (another daemon on this
    // network namespace may hold the port); those answer UNAVAILABLE with this reason.
    runtime.streamingError = `the CRI streaming server is not running: cannot listen on ${STREAMING_ADDRESS}:${config.websocketServerListeningPort}: ${(err as Error).message}`;
    logger.error(runtime.streamingError);
  }
  return {
    runtime,
    cni,
    streaming,
    close: () => (runtime.streaming ? streaming.close() : Promise.resolve()),
  };
}
