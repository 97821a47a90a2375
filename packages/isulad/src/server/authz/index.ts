/**
 * Authorization of remote calls through a Docker authorization plugin (`--authorization-plugin
 * authz-broker`).
 *
 * - Which calls: every RPC of every service (CRI included) that arrives on a tcp listener, TLS or
 *   not. Calls on unix sockets are local — root or the socket's group — and are not checked; they
 *   are recognised by the listener they came in on (interceptor.ts), not by their address.
 * - Who: the CN of the client certificate verified by the TLS handshake (`--tlsverify`), "" without
 *   one. The `username`/`tls_mode` headers upstream's client sends are ignored.
 * - What: upstream's action name for the RPC (actions.ts), sent as the `isulad-action` header of a
 *   Docker `AuthZPlugin.AuthZReq` whose RequestURI is the gRPC path (plugin-client.ts).
 * - Answer: allowed → the call runs; refused → PERMISSION_DENIED with the plugin's message (or
 *   upstream's `action '<a>' for user '<u>': permission denied`); plugin unreachable, broken or
 *   silent for 5 s → PERMISSION_DENIED `Failed to request authz plugin. Is server running ?`.
 *   Each denial is logged at warn with user and action (never certificates or request contents).
 * - Where: the plugin's socket is /run/isulad/plugins/authz-broker.sock, or the path in the
 *   environment variable ISULAD_AUTHZ_PLUGIN_SOCKET (tests, e2e).
 */
import type * as grpc from '@grpc/grpc-js';
import { authzInterceptor, type AuthzLog } from './interceptor';
import { AuthzPluginClient } from './plugin-client';

export { RPC_ACTIONS, actionFor } from './actions';
export { authzInterceptor, isLocalCall, localCredentials, peerIdentity, type AuthzLog } from './interceptor';
export { AUTHZ_TIMEOUT_MS, AuthzPluginClient, PLUGIN_UNREACHABLE, deniedText, type AuthzDecision, type AuthzQuestion } from './plugin-client';

/** The only authorization plugin upstream knows. */
export const AUTHZ_BROKER = 'authz-broker';
/** Where upstream's authz-broker listens. */
export const AUTHZ_PLUGIN_SOCKET = '/run/isulad/plugins/authz-broker.sock';
/** Environment variable overriding {@link AUTHZ_PLUGIN_SOCKET}. */
export const AUTHZ_SOCKET_ENV = 'ISULAD_AUTHZ_PLUGIN_SOCKET';

export function authzSocketPath(env: NodeJS.ProcessEnv): string {
  return env[AUTHZ_SOCKET_ENV] || AUTHZ_PLUGIN_SOCKET;
}

export interface Authz {
  /** Install with `new grpc.Server({ interceptors: [interceptor] })`; unix listeners bound with localCredentials(). */
  interceptor: grpc.ServerInterceptor;
  socketPath: string;
  close(): void;
}

/** The authorization for `--authorization-plugin <plugin>` (config validation admits only authz-broker). */
export function createAuthz(plugin: string, opts: { env: NodeJS.ProcessEnv; log: AuthzLog; timeoutMs?: number }): Authz {
  if (plugin !== AUTHZ_BROKER) throw new Error(`Invalid authorization plugin '${plugin}'`);
  const client = new AuthzPluginClient({ socketPath: authzSocketPath(opts.env), timeoutMs: opts.timeoutMs });
  return {
    interceptor: authzInterceptor({ authorize: (q) => client.authorize(q), log: opts.log }),
    socketPath: client.socketPath,
    close: () => client.close(),
  };
}
