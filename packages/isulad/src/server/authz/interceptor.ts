import * as grpc from '@grpc/grpc-js';
import { actionFor } from './actions';
import { PLUGIN_UNREACHABLE, type AuthzDecision, type AuthzQuestion } from './plugin-client';

export interface AuthzLog {
  warn(obj: object, msg: string): void;
}

/**
 * Calls that came in on a unix-socket listener. Membership is given by the listener itself (see
 * {@link localCredentials}), never guessed from the connection: grpc-js reports a tcp peer whose
 * connection was reset right after sending its request with no address at all (the same as a unix
 * peer), so "no address" must not mean "local".
 */
const localCalls = new WeakSet<object>();

/** Per-listener interceptor that tags every call of a unix-socket listener as local. */
const markLocal: grpc.ServerInterceptor = (_method, call) => {
  const tagged = new grpc.ServerInterceptingCall(call);
  localCalls.add(tagged);
  return tagged;
};

/** Credentials for a unix-socket listener: the same credentials, its calls tagged as local. */
export function localCredentials(creds: grpc.ServerCredentials): grpc.ServerCredentials {
  return grpc.experimental.createServerCredentialsWithInterceptors(creds, [markLocal]);
}

/** True for a call that arrived on a unix-socket listener bound through {@link localCredentials}. */
export function isLocalCall(call: grpc.ServerInterceptingCallInterface): boolean {
  return localCalls.has(call);
}

/**
 * Who is calling: the CN of the client certificate the TLS handshake verified against the CA, or ""
 * (no TLS, or TLS without a verified client certificate). Client metadata (upstream's `username`
 * header) is never trusted. With several CNs, the first counts, as OpenSSL's lookup does upstream.
 */
export function peerIdentity(call: grpc.ServerInterceptingCallInterface): { user: string; authMethod: 'TLS' | '' } {
  const auth = call.getAuthContext();
  const cert = auth.transportSecurityType === 'ssl' ? auth.sslPeerCertificate : undefined;
  if (!cert) return { user: '', authMethod: '' };
  const cn = (cert.subject as Record<string, string | string[] | undefined> | undefined)?.CN;
  const user = Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? '');
  return { user, authMethod: 'TLS' };
}

export interface AuthzInterceptorOptions {
  authorize(q: AuthzQuestion): Promise<AuthzDecision>;
  log: AuthzLog;
}

/**
 * Server interceptor asking the authorization plugin about every call that is not local, before
 * anything of it reaches the handler: the call's metadata is held back (so the handler does not
 * start and no request message is read) until the plugin answered. Allowed → the call proceeds
 * untouched; otherwise it ends with PERMISSION_DENIED and the plugin's message (a trailers-only
 * response, which ends unary and streaming calls alike).
 */
export function authzInterceptor(opts: AuthzInterceptorOptions): grpc.ServerInterceptor {
  return (method, call) => {
    if (isLocalCall(call)) return new grpc.ServerInterceptingCall(call);
    const uri = method.path;
    const action = actionFor(uri);
    const { user, authMethod } = peerIdentity(call);
    let cancelled = false;
    const intercepted: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            const deny = (message: string, failure?: string) => {
              opts.log.warn({ user, action, rpc: uri, ...(failure !== undefined && { reason: failure }) }, 'authorization denied');
              intercepted.sendStatus({ code: grpc.status.PERMISSION_DENIED, details: message });
            };
            opts.authorize({ user, authMethod, uri, action }).then(
              (decision) => {
                if (cancelled) return;
                if (decision.allow) pass(metadata);
                else deny(decision.message, decision.failure);
              },
              (err: unknown) => {
                if (!cancelled) deny(PLUGIN_UNREACHABLE, err instanceof Error ? err.message : String(err));
              },
            );
          },
          onCancel: () => {
            cancelled = true;
          },
        }),
    });
    return intercepted;
  };
}
