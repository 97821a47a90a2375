import { ErrorCode } from '@isula/protocol';

/** In-band failure as upstream reports it: gRPC OK with `cc` and `errmsg`. */
export interface InBandFailure {
  cc: number;
  errmsg: string;
}

/**
 * Domain errors carry their own `cc` (ContainerError, ImageError, VolumeError, RuntimeError's
 * ERR_RUNTIME); anything else is ERR_EXEC with its message.
 */
export function failure(err: unknown): InBandFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Error && err.name === 'RuntimeError') return { cc: ErrorCode.RUNTIME, errmsg: message };
  const cc = (err as { cc?: unknown } | null)?.cc;
  return { cc: typeof cc === 'number' ? cc : ErrorCode.EXEC, errmsg: message };
}

/** Runs a handler body; a thrown error becomes the response's `cc`/`errmsg`. */
export async function inBand<T extends object>(fn: () => Promise<T> | T): Promise<T | InBandFailure> {
  try {
    return await fn();
  } catch (err) {
    return failure(err);
  }
}
