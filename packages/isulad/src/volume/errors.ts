import { ErrorCode } from '@isula/protocol';

/** A volume operation that failed for a reason the user should read; `cc` travels in-band. */
export class VolumeError extends Error {
  constructor(
    message: string,
    readonly cc: ErrorCode = ErrorCode.EXEC,
  ) {
    super(message);
    this.name = 'VolumeError';
  }
}

/** Names of local volumes: they become one directory under `<graph>/volumes`. */
export const VALID_VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export const invalidVolumeName = (name: string) =>
  new VolumeError(`Invalid volume name ${JSON.stringify(name)}: only "[a-zA-Z0-9][a-zA-Z0-9_.-]+" are allowed`, ErrorCode.INPUT);

export const noSuchVolume = (name: string) => new VolumeError(`No such volume: ${name}`);

export const volumeInUse = (name: string, containers: string[]) =>
  new VolumeError(`remove volume ${name} failed: volume is used by container ${containers.join(', ')}`);
