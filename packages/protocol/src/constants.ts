/**
 * Protocol-level constants shared by the `isula` client and the `isulad` daemon.
 *
 * Values are wire/compat facts of upstream iSulad (see
 * /work/shared/reference/isulad-notes.md §1.3, §1.5, §1.6, §3.8).
 */

/**
 * In-band result code carried in every unary response's `cc` field and in the
 * `cc` trailing metadata of streams (upstream enum `isulad_errno_t`).
 */
export enum ErrorCode {
  SUCCESS = 0,
  MEMOUT = 1,
  MEMSET = 2,
  FORMAT = 3,
  INPUT = 4,
  EXEC = 5,
  INTERNAL = 6,
  CONNECT = 7,
  RUNTIME = 8,
  INFO_DETACH = 9,
  UNKNOWN = 10,
}

/** Default daemon endpoint (gRPC over a unix socket). */
export const DEFAULT_HOST = 'unix:///var/run/isulad.sock';

/** Default `--graph` (persistent state root). */
export const DEFAULT_GRAPH = '/var/lib/isulad';
/** Default `--state` (runtime state root). */
export const DEFAULT_STATE = '/var/run/isulad';
/** Default `--pidfile`. */
export const DEFAULT_PIDFILE = '/var/run/isulad.pid';
/** Where the client creates its FIFO directories for local start/exec. */
export const CLIENT_RUN_DIR = '/var/run/isula';
/** Daemon configuration file. */
export const DAEMON_JSON = '/etc/isulad/daemon.json';
/** Daemon constants file (registry mirrors, default host, ...). */
export const DAEMON_CONSTANTS_JSON = '/etc/isulad/daemon_constants.json';
/** Default OCI spec template. */
export const OCI_DEFAULT_CONFIG = '/etc/default/isulad/config.json';

/** Printed by the client when the RPC itself fails (daemon unreachable). */
export const CANNOT_CONNECT_MSG = 'Can not connect with server.Is the iSulad daemon running on the host?';

// ---------------------------------------------------------------------------
// gRPC metadata keys (all lower-case, as they travel in HTTP/2 headers).
// ---------------------------------------------------------------------------

/** Request header of RemoteStart/Attach: target container id or name. */
export const MD_CONTAINER_ID = 'container-id';
/** Request header of RemoteStart/Attach: "true"/"false". */
export const MD_ATTACH_STDIN = 'attach-stdin';
/** Request header of RemoteStart/Attach: "true"/"false". */
export const MD_ATTACH_STDOUT = 'attach-stdout';
/** Request header of RemoteStart/Attach: "true"/"false". */
export const MD_ATTACH_STDERR = 'attach-stderr';
/** Request header of RemoteExec: the whole exec request as JSON. */
export const MD_REMOTE_EXEC = 'isulad-remote-exec';
/** Request header of CopyToContainer: the copy request as JSON. */
export const MD_COPY_TO_CONTAINER = 'isulad-copy-to-container';
/** Initial (response) metadata of CopyFromContainer: path stat as JSON. */
export const MD_CONTAINER_PATH_STAT = 'isulad-container-path-stat';
/** TLS auth header (remote builds): CN of the client certificate. */
export const MD_USERNAME = 'username';
/** TLS auth header (remote builds): "1" or "0". */
export const MD_TLS_MODE = 'tls_mode';
/** Trailing metadata of streams: result code (decimal string of {@link ErrorCode}). */
export const MD_CC = 'cc';
/** Trailing metadata of streams: error message (JSON-string-escaped upstream). */
export const MD_ERRMSG = 'errmsg';
/** Trailing metadata of RemoteExec: exit code of the process. */
export const MD_EXIT_CODE = 'exit_code';

/** The same metadata keys grouped in one object. */
export const MetadataKey = {
  CONTAINER_ID: MD_CONTAINER_ID,
  ATTACH_STDIN: MD_ATTACH_STDIN,
  ATTACH_STDOUT: MD_ATTACH_STDOUT,
  ATTACH_STDERR: MD_ATTACH_STDERR,
  REMOTE_EXEC: MD_REMOTE_EXEC,
  COPY_TO_CONTAINER: MD_COPY_TO_CONTAINER,
  CONTAINER_PATH_STAT: MD_CONTAINER_PATH_STAT,
  USERNAME: MD_USERNAME,
  TLS_MODE: MD_TLS_MODE,
  CC: MD_CC,
  ERRMSG: MD_ERRMSG,
  EXIT_CODE: MD_EXIT_CODE,
} as const;

/**
 * gRPC method path: `/<package>.<Service>/<Method>`.
 *
 * @example methodPath('containers.ContainerService', 'Version') === '/containers.ContainerService/Version'
 */
export function methodPath(serviceFullName: string, methodName: string): string {
  return `/${serviceFullName}/${methodName}`;
}
