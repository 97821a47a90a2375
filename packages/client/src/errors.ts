/** gRPC status codes the client distinguishes. */
export enum GrpcStatus {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  PERMISSION_DENIED = 7,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  UNAUTHENTICATED = 16,
}

/** The daemon could not be reached at all (no socket, refused, TLS handshake failed...). */
export class ConnectError extends Error {
  constructor(
    readonly detail: string,
    readonly code?: string,
    /** Set when the TLS handshake failed: the reason in a user's words (wrong CA, expired...). */
    readonly tlsReason?: string,
  ) {
    super(`Can not connect with server.Is the iSulad daemon running on the host?`);
    this.name = 'ConnectError';
  }
}

/** A call that ended with a non-OK gRPC status. */
export class RpcError extends Error {
  constructor(
    readonly status: number,
    readonly details: string,
  ) {
    super(details || `gRPC status ${status}`);
    this.name = 'RpcError';
  }
}

/** The daemon answered with a non-zero in-band `cc`; `message` is its `errmsg`. */
export class DaemonError extends Error {
  constructor(
    readonly cc: number,
    message: string,
  ) {
    super(message);
    this.name = 'DaemonError';
  }
}
