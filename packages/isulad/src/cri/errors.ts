import { status } from '@grpc/grpc-js';

/**
 * A CRI call refused or failed with a definite gRPC status (the adapter answers `grpcCode`, see
 * server/grpc-adapter.ts `grpcStatusOf`); other errors answer INTERNAL with their message.
 */
export class CriError extends Error {
  constructor(
    message: string,
    readonly grpcCode: status,
  ) {
    super(message);
    this.name = 'CriError';
  }
}

export const notFound = (message: string) => new CriError(message, status.NOT_FOUND);
export const invalidArgument = (message: string) => new CriError(message, status.INVALID_ARGUMENT);
export const failedPrecondition = (message: string) => new CriError(message, status.FAILED_PRECONDITION);
export const deadlineExceeded = (message: string) => new CriError(message, status.DEADLINE_EXCEEDED);
export const unimplemented = (message: string) => new CriError(message, status.UNIMPLEMENTED);

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
