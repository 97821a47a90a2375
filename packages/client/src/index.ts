export { IsulaClient, checkInBand, type VersionInfo, type DaemonInfo } from './client';
export { resolveEndpoint, optionsFromEnv, DEFAULT_HOST, InvalidHostError, type ConnectOptions, type Endpoint, type TlsMaterial } from './endpoint';
export { ConnectError, DaemonError, RpcError, GrpcStatus } from './errors';
export { GrpcConnection, FrameDecoder, frame, type Metadata } from './transport/grpc-http2';
