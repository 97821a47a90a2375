import { ArgvError } from '@isula/argv';
import { ConnectError, DaemonError, GrpcStatus, InvalidHostError, RpcError, TlsFileError } from '@isula/client';

/** A failure the command itself reports (wrong argument count...), with its exit code. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export const CANNOT_CONNECT = 'Can not connect with server.Is the iSulad daemon running on the host?';

/** Turns any failure into upstream's line on stderr and exit code. */
export function describeFailure(err: unknown): { message: string; exitCode: number } {
  if (err instanceof ArgvError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof InvalidHostError) return { message: err.message, exitCode: 125 };
  if (err instanceof UsageError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof ConnectError) {
    return { message: err.tlsReason ? `Cannot connect to the iSulad daemon over TLS: ${err.tlsReason}` : CANNOT_CONNECT, exitCode: 1 };
  }
  if (err instanceof TlsFileError) return { message: err.message, exitCode: 1 };
  if (err instanceof DaemonError) return { message: `Error response from daemon: ${err.message}`, exitCode: 1 };
  if (err instanceof RpcError) {
    if (err.status === GrpcStatus.UNIMPLEMENTED) {
      return { message: `Error response from daemon: this daemon does not implement the call (${err.details})`, exitCode: 1 };
    }
    const withMessage = [GrpcStatus.UNKNOWN, GrpcStatus.PERMISSION_DENIED, GrpcStatus.INTERNAL].includes(err.status);
    if (withMessage && err.details) return { message: `Error response from daemon: ${err.details}`, exitCode: 1 };
    return { message: CANNOT_CONNECT, exitCode: 1 };
  }
  return { message: err instanceof Error ? err.message : String(err), exitCode: 1 };
}

/**
 * The spec's rule: only root may use `run -i/-t`, `attach` and `exec` (their stdio goes through
 * root-owned FIFOs and the daemon's terminal handling). Refused before anything is created.
 */
export function requireRootFor(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new UsageError(`isula ${what}: only root can use it (iSulad does not allow run -i/-t, attach or exec for other users)`, 1);
  }
}
