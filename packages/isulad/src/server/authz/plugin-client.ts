import * as http from 'node:http';

/** Upstream's text when the plugin refuses without saying why. */
export const deniedText = (action: string, user: string) => `action '${action}' for user '${user}': permission denied`;
/** Upstream's text when the plugin cannot be asked (not running, broken answer, timeout): fail closed. */
export const PLUGIN_UNREACHABLE = 'Failed to request authz plugin. Is server running ?';

/** How long one authorization (activation included) may take before the call is denied. */
export const AUTHZ_TIMEOUT_MS = 5000;
/** Docker plugin API media type, sent as Accept like dockerd does. */
const PLUGIN_MEDIA_TYPE = 'application/vnd.docker.plugins.v1.2+json';
/** A plugin answer is a small JSON object; anything longer is treated as a broken plugin. */
const MAX_ANSWER_BYTES = 1 << 20;

/** One question to the plugin. */
export interface AuthzQuestion {
  /** CN of the verified client certificate, "" without one. */
  user: string;
  /** "TLS" when the user comes from a verified certificate, else "". */
  authMethod: 'TLS' | '';
  /** The gRPC path, e.g. `/containers.ContainerService/Create`. */
  uri: string;
  /** Upstream's action name, e.g. `container_create` (see actions.ts). */
  action: string;
}

export type AuthzDecision =
  | { allow: true }
  /** `message` goes to the client; `failure` (plugin unreachable or broken) is only for the log. */
  | { allow: false; message: string; failure?: string };

export interface AuthzPluginOptions {
  socketPath: string;
  timeoutMs?: number;
}

class PluginFailure extends Error {}

/**
 * Client of a Docker authorization plugin (`authz` in `Plugin.Activate`'s `Implements`) on a unix
 * socket: `POST /Plugin.Activate` once (again after any failure), then `POST /AuthZPlugin.AuthZReq`
 * per call with `{User, UserAuthNMethod, RequestMethod, RequestURI, RequestHeaders}`; the answer is
 * `{Allow, Msg, Err}`. Only AuthZReq is consulted: the request body is not forwarded (gRPC messages
 * arrive after the decision and may be large or streamed) and no AuthZRes is sent.
 *
 * Every failure — the socket missing, a refused connection, an HTTP error, a non-JSON answer, a
 * non-empty `Err`, a plugin that does not implement authz, no answer within the timeout — denies.
 */
export class AuthzPluginClient {
  readonly socketPath: string;
  private readonly timeoutMs: number;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private activation: Promise<void> | undefined;
  private activated = false;

  constructor(opts: AuthzPluginOptions) {
    this.socketPath = opts.socketPath;
    this.timeoutMs = opts.timeoutMs ?? AUTHZ_TIMEOUT_MS;
  }

  /** Asks the plugin; never rejects. */
  async authorize(q: AuthzQuestion): Promise<AuthzDecision> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new PluginFailure(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    try {
      await this.activate(ac.signal);
      const answer = await this.post(
        '/AuthZPlugin.AuthZReq',
        {
          User: q.user,
          UserAuthNMethod: q.authMethod,
          RequestMethod: 'POST',
          RequestURI: q.uri,
          RequestHeaders: { 'isulad-action': q.action },
        },
        ac.signal,
      );
      const err = typeof answer.Err === 'string' ? answer.Err : '';
      if (err !== '') throw new PluginFailure(`plugin error: ${err}`);
      if (answer.Allow === true) return { allow: true };
      const msg = typeof answer.Msg === 'string' ? answer.Msg : '';
      return { allow: false, message: msg !== '' ? msg : deniedText(q.action, q.user) };
    } catch (e) {
      this.activated = false; // a restarted or replaced plugin is activated again
      const reason = ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason.message : e instanceof Error ? e.message : String(e);
      return { allow: false, message: PLUGIN_UNREACHABLE, failure: reason };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the kept-alive connections to the plugin. */
  close(): void {
    this.agent.destroy();
  }

  private async activate(signal: AbortSignal): Promise<void> {
    if (this.activated) return;
    // Concurrent calls share one activation, bounded by its own timeout; each caller still waits
    // no longer than its own deadline.
    if (!this.activation) {
      const attempt = this.post('/Plugin.Activate', undefined, AbortSignal.timeout(this.timeoutMs)).then((answer) => {
        const impl = answer.Implements;
        if (!Array.isArray(impl) || !impl.includes('authz')) throw new PluginFailure('the plugin does not implement authz');
        this.activated = true;
      });
      this.activation = attempt;
      attempt.then(
        () => (this.activation = undefined),
        () => (this.activation = undefined),
      );
    }
    const shared = this.activation;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      shared.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      if (signal.aborted) onAbort();
    });
  }

  private post(path: string, body: object | undefined, signal: AbortSignal): Promise<Record<string, unknown>> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          path,
          method: 'POST',
          agent: this.agent,
          signal,
          headers: { Accept: PLUGIN_MEDIA_TYPE, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) {
              res.destroy(new PluginFailure(`${path}: answer longer than ${MAX_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('error', reject);
          res.on('close', () => {
            if (!res.complete) reject(new PluginFailure(`${path}: the answer was cut short`));
          });
          res.on('end', () => {
            if (res.statusCode !== 200) return reject(new PluginFailure(`${path}: HTTP ${res.statusCode}`));
            try {
              const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
              if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
              resolve(parsed as Record<string, unknown>);
            } catch {
              reject(new PluginFailure(`${path}: the answer is not a JSON object`));
            }
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }
}
