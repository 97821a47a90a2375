export { IsulaClient, checkInBand, type VersionInfo, type DaemonInfo } from './client';
export { resolveEndpoint, optionsFromEnv, DEFAULT_HOST, InvalidHostError, type ConnectOptions, type Endpoint, type TlsMaterial } from './endpoint';
export { ConnectError, DaemonError, RpcError, GrpcStatus } from './errors';
export { GrpcConnection, type Metadata } from './transport/h2-lite';
export { FrameDecoder, frame } from './transport/grpc-framing';
