/**
 * The CRI streaming server (Exec, Attach, PortForward): one-time URLs on
 * `websocket-server-listening-port`, served with the Kubernetes WebSocket channel protocols.
 * See README.md in this folder.
 */
export { StreamingServer, StreamingRequestError, DEFAULT_STREAMING_PORT, DEFAULT_STREAM_IDLE_TIMEOUT_MS, type StreamingServerOptions } from './server';
export { DEFAULT_TOKEN_TTL_MS, DEFAULT_MAX_IN_FLIGHT } from './tokens';
export { sessionStdioStream, type SessionStdioStream } from './stdio-stream';
export type {
  AttachRequestInfo,
  ExecRequestInfo,
  PortForwardRequestInfo,
  ResizeEvents,
  SessionIO,
  StreamingLogger,
  StreamingRuntime,
  TerminalSize,
} from './types';
