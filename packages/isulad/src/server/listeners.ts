import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConfigError, type DaemonConfig, type HostAddress } from '../config';
import type { DaemonLogger } from '../log/logger';
import { lookupGroupId } from '../os/groups';
import { localCredentials } from './authz';
import { serverCredentials } from './tls';

const UNIX_SOCKET_MODE = 0o660;

/** True when something accepts connections on the unix socket at `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Clears the way for a unix listener: a socket left by a killed daemon is removed, one a live
 * daemon answers on is refused, and anything that is not a socket is never deleted.
 */
async function prepareUnixPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  let st;
  try {
    st = await lstat(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new ConfigError(`Invalid socket name: unix://${path} exists and is not a socket`);
  if (await socketAnswers(path)) throw new ConfigError(`Listen on unix://${path} failed: another daemon answers on this socket`);
  await unlink(path);
}

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
}

/**
 * Binds every configured host on one gRPC server. Unix sockets get mode 0660 and the configured
 * group (a missing group is only a warning, as upstream tolerates it); tcp hosts carry TLS when set.
 */
export async function bindListeners(server: grpc.Server, listeners: HostAddress[], config: DaemonConfig, log: DaemonLogger): Promise<string[]> {
  const unixPaths: string[] = [];
  const tcpCreds = listeners.some((l) => l.kind === 'tcp') ? await serverCredentials(config, log) : undefined;
  const gid = await lookupGroupId(config.group);
  if (gid === undefined) log.warn(`Group ${config.group} not found, the unix sockets stay in root's group`);
  for (const l of listeners) {
    if (l.kind === 'unix') {
      await prepareUnixPath(l.path);
      // The socket is born with the umask's mode: keep it closed to others from the first instant.
      const old = process.umask(0o117);
      try {
        // Calls on a unix socket are local: the authorization plugin (if any) does not check them.
        await bind(server, `unix://${l.path}`, localCredentials(grpc.ServerCredentials.createInsecure()));
      } catch (err) {
        throw new ConfigError(`Listen on ${l.uri} failed: ${(err as Error).message}`);
      } finally {
        process.umask(old);
      }
      unixPaths.push(l.path);
      await chmod(l.path, UNIX_SOCKET_MODE);
      if (gid !== undefined) await chown(l.path, 0, gid);
    } else {
      if (!config.tlsVerify) {
        log.warn("[!] DON'T BIND ON ANY IP ADDRESS WITHOUT setting --tlsverify IF YOU DON'T KNOW WHAT YOU'RE DOING [!]");
      }
      const host = l.host.includes(':') ? `[${l.host}]` : l.host;
      try {
        await bind(server, `${host}:${l.port}`, tcpCreds!);
      } catch (err) {
        throw new ConfigError(`Listen on ${l.uri} failed: ${(err as Error).message}`);
      }
    }
    log.info(`Listening on ${l.uri}`);
  }
  return unixPaths;
}

/** Removes our unix sockets on the way out (grpc-js leaves them after a graceful shutdown). */
export async function removeSockets(paths: string[]): Promise<void> {
  await Promise.all(paths.map((p) => unlink(p).catch(() => undefined)));
}
