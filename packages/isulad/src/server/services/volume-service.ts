import { ErrorCode, type VolumeService } from '@isula/protocol';
import { VolumeError } from '../../volume/errors';
import type { Volumes } from '../../volume/volumes';
import type { UnaryImpl } from '../grpc-adapter';

/** In-band failure as upstream reports it: gRPC OK with `cc` and `errmsg`. */
async function inBand<T extends object>(fn: () => Promise<T> | T): Promise<T | { cc: number; errmsg: string }> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof VolumeError) return { cc: err.cc, errmsg: err.message };
    return { cc: ErrorCode.EXEC, errmsg: err instanceof Error ? err.message : String(err) };
  }
}

/** volume.VolumeService: wire messages in, the volume domain's calls out. */
export function volumeService(volumes: Volumes): UnaryImpl<typeof VolumeService> {
  return {
    List: () => inBand(() => ({ volumes: volumes.list().map((v) => ({ driver: v.driver, name: v.name })) })),
    Remove: (req) =>
      inBand(async () => {
        if (req.name === '') throw new VolumeError('Volume name is required', ErrorCode.INPUT);
        await volumes.remove(req.name);
        return {};
      }),
    Prune: () => inBand(async () => ({ volumes: await volumes.prune() })),
  };
}
