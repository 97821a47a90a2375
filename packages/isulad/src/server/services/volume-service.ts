import { ErrorCode, type VolumeService } from '@isula/protocol';
import { VolumeError } from '../../volume/errors';
import type { Volumes } from '../../volume/volumes';
import type { UnaryImpl } from '../grpc-adapter';
import { inBand } from './in-band';

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
