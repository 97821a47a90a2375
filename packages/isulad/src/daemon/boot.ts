import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ArgvError, isuladOptions, parseArgs, renderIsuladHelp } from '@isula/argv';
import { ContainerService, ImagesService, NetworkService, VolumeService } from '@isula/protocol';
import { ConfigError, loadConfig, type LoadedConfig } from '../config';
import { checkFlagHosts } from '../config/flags';
import { createLogger, DAEMON_LOG_FILE, type LoggerSetup } from '../log/logger';
import { lookupGroupId } from '../os/groups';
import { createAuthz } from '../server/authz';
import { bindBidi, bindServerStream, bindUnary, grpcDefinition } from '../server/grpc-adapter';
import { bindListeners, removeSockets } from '../server/listeners';
import { setupCri, type CriSetup } from '../cri';
import { containerCopy } from '../server/services/container-copy';
import { containerExec } from '../server/services/container-exec';
import { containerStdio } from '../server/services/container-stdio';
import { containerService } from '../server/services/container-service';
import { containerStreams } from '../server/services/container-streams';
import { volumeService } from '../server/services/volume-service';
import { imagesService, imagesStreams } from '../server/services/images-service';
import { buildInfo } from '../system/build-info';
import { readHostFacts } from '../system/info';
import { NO_COUNTS, type DaemonContext } from './context';
import { openEngine, type Engine } from './engine';
import { notifyReady, notifyStopping } from './notify';
import { PidFile } from './pidfile';
import { prepareTmpdir, tmpdirBase } from './tmpdir';

const CLIENT_RUN_DIR = '/var/run/isula';
const SHUTDOWN_GRACE_MS = 5000;

const stderr = (line: string) => process.stderr.write(`${line}\n`);

/** Parses the command line. Returns an exit code when the daemon must not start (help, version, errors). */
function parseCommandLine(args: string[]): { values: Record<string, boolean | string | string[]> } | number {
  let parsed;
  try {
    parsed = parseArgs(args, isuladOptions);
  } catch (err) {
    if (err instanceof ArgvError) {
      stderr(err.message);
      return err.exitCode;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(renderIsuladHelp());
    return 0;
  }
  if (parsed.values.version === true) {
    const b = buildInfo();
    process.stdout.write(`Version ${b.version}, commit ${b.gitCommit}\n`);
    return 0;
  }
  if (parsed.positionals.length > 0) {
    stderr(`unresolved arguments: ${parsed.positionals.join(' ')};\trun \`isulad --help\` for help.`);
    return 1;
  }
  try {
    // Upstream checks -H while parsing, before it reads daemon.json.
    const hosts = parsed.values.host;
    checkFlagHosts(Array.isArray(hosts) ? hosts : []);
  } catch (err) {
    if (err instanceof ConfigError) {
      stderr(err.message);
      return err.exitCode;
    }
    throw err;
  }
  return parsed;
}

async function existingSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** Creates the daemon's directories with upstream's modes (state and graph 0750, client run dir 0770). */
async function prepareDirectories(loaded: LoadedConfig): Promise<void> {
  const { config } = loaded;
  for (const dir of [config.state, config.graph]) {
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await chmod(dir, 0o750);
  }
  await mkdir(CLIENT_RUN_DIR, { recursive: true, mode: 0o770 });
  await chmod(CLIENT_RUN_DIR, 0o770);
  const gid = await lookupGroupId(config.group);
  if (gid !== undefined) await chown(CLIENT_RUN_DIR, 0, gid);
}

/**
 * Boots isulad: command line → configuration → pidfile → directories → log → tmpdir → gRPC listeners
 * → READY. Resolves with an exit code when the daemon ends before serving, undefined once it serves.
 */
export async function runDaemon(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
  const started = process.hrtime.bigint();
  grpc.setLogVerbosity(grpc.logVerbosity.NONE); // bind errors are reported by us, once
  process.umask(0o022);

  const cmd = parseCommandLine(args);
  if (typeof cmd === 'number') return cmd;
  if (process.getuid?.() !== 0) {
    stderr('iSulad must be called by root');
    return 1;
  }

  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig({ flags: cmd.values, env });
  } catch (err) {
    if (err instanceof ConfigError) {
      stderr(err.message);
      return err.exitCode;
    }
    throw err;
  }
  const { config } = loaded;

  let pidfile: PidFile;
  try {
    pidfile = await PidFile.acquire(config.pidfile);
  } catch (err) {
    stderr((err as Error).message);
    return 1;
  }

  let log: LoggerSetup | undefined;
  let engine: Engine | undefined;
  let criSetup: CriSetup | undefined;
  let unixPaths: string[] = [];
  // --authorization-plugin: every call on a tcp listener waits for the plugin's verdict; calls on
  // the unix sockets (tagged by their listener, see bindListeners) are local and not checked.
  const authz = config.authorizationPlugin
    ? createAuthz(config.authorizationPlugin, { env, log: { warn: (obj, msg) => log?.logger.warn(obj, msg) } })
    : undefined;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, ...(authz && { interceptors: [authz.interceptor] }) });
  const cleanup = async () => {
    server.forceShutdown();
    authz?.close();
    await criSetup?.close().catch(() => undefined);
    await removeSockets(unixPaths);
    await engine?.close().catch(() => undefined);
    pidfile.release();
    await log?.flush();
  };

  try {
    await prepareDirectories(loaded);
    const logFile = join(config.logOpts.logPath, DAEMON_LOG_FILE);
    log = createLogger(config.logDriver, config.logLevel, config.logOpts, config.logDriver === 'file' ? await existingSize(logFile) : 0);
    const logger = log.logger;
    if (loaded.unknownKeys.length > 0) logger.warn(`Unknown keys in daemon.json ignored: ${loaded.unknownKeys.join(', ')}`);
    if (authz) logger.info(`Authorization plugin ${config.authorizationPlugin} at ${authz.socketPath}`);

    const { base, custom } = tmpdirBase(env, config.graph);
    const tmpdir = await prepareTmpdir(base);
    if (custom) {
      // The default place is still secured, as upstream does, but only a warning if that fails.
      await prepareTmpdir(config.graph).catch((err: Error) => logger.warn(err.message));
    }

    const host = await readHostFacts();
    engine = await openEngine({ config, constants: loaded.constants, tmpdir, logger });
    if (config.imageLayerCheck) await engine.images.checkLayers();
    const images = engine.images;
    await engine.containers.restore();
    const box = engine.containers;
    const counts = { ...NO_COUNTS, images: () => images.count(), containers: () => box.counts() };
    const ctx: DaemonContext = { config, constants: loaded.constants, logger, env, tmpdir, host, counts, storageStatus: engine.driver.status() };

    server.addService(grpcDefinition(ContainerService), {
      ...bindUnary(ContainerService, containerService(ctx, box), logger),
      ...bindServerStream(ContainerService, containerStreams(box, engine.events), logger),
      ...bindBidi(ContainerService, containerCopy(box), logger),
      ...bindUnary(ContainerService, containerExec(box), logger),
      ...bindBidi(ContainerService, containerStdio(box), logger),
    });
    const imageDeps = { images, puller: engine.puller, registry: engine.registry, auths: engine.auths };
    server.addService(grpcDefinition(ImagesService), {
      ...bindUnary(ImagesService, imagesService(imageDeps), logger),
      ...bindServerStream(ImagesService, imagesStreams(imageDeps), logger),
    });
    // Registered now so every method answers UNIMPLEMENTED (not "unknown service") until its domain lands.
    server.addService(grpcDefinition(VolumeService), bindUnary(VolumeService, volumeService(engine.volumes), logger));
    server.addService(grpcDefinition(NetworkService), {});
    // Kubernetes CRI runtime.v1 (RuntimeService, ImageService) on the same listeners, its streaming
    // server on websocket-server-listening-port, CNI when network-plugin is "cni".
    criSetup = await setupCri({ server, engine, config, constants: loaded.constants, logger });

    unixPaths = await bindListeners(server, loaded.listeners, config, logger);
    installSignalHandlers(server, unixPaths, pidfile, log, engine, criSetup);
    notifyReady(env);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    logger.info(`iSulad successfully booted in ${seconds.toFixed(3)} s`);
    return undefined;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log?.logger.error(`Starting failed... ${message}`);
    stderr(message);
    await cleanup();
    return 1;
  }
}

function installSignalHandlers(server: grpc.Server, unixPaths: string[], pidfile: PidFile, log: LoggerSetup, engine: Engine, cri: CriSetup): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.logger.info(`Got ${signal}; exiting`);
    notifyStopping();
    const force = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
    // Streaming sessions end with the daemon (the containers run on).
    const streamingClosed = cri.close().catch((err: Error) => log.logger.error(`closing the CRI streaming server: ${err.message}`));
    server.tryShutdown(async () => {
      clearTimeout(force);
      await streamingClosed;
      await removeSockets(unixPaths);
      await engine.close().catch((err: Error) => log.logger.error(`closing the engine: ${err.message}`));
      pidfile.release();
      log.logger.info('isulad stopped');
      await log.flush();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Upstream ignores these: a closed terminal or a stray USR1 must not stop the daemon.
  for (const sig of ['SIGHUP', 'SIGUSR1'] as const) process.on(sig, () => undefined);
  // A stray rejected promise is a bug to log, not a reason to take every client down with the daemon.
  process.on('unhandledRejection', (err) => log.logger.error({ err }, 'unhandled promise rejection'));
  process.on('uncaughtException', (err) => {
    log.logger.fatal({ err }, 'uncaught exception, isulad exits');
    server.forceShutdown();
    void removeSockets(unixPaths)
      .then(() => {
        pidfile.release();
        return log.flush();
      })
      .finally(() => process.exit(1));
  });
}
