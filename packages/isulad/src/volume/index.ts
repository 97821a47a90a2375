export { Volumes, type VolumeRecord, type EnsuredVolume, type VolumesOptions } from './volumes';
export { VolumeError, VALID_VOLUME_NAME, invalidVolumeName, noSuchVolume, volumeInUse } from './errors';
export { resolveInScope } from './scope';
