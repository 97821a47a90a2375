import { VolumeService } from '@isula/protocol';
import { checkInBand, type IsulaClient } from './client';

/** One volume as `volume ls` shows it. */
export interface VolumeSummary {
  driver: string;
  name: string;
}

/** The daemon's volumes (`/volume.VolumeService/List`). */
export async function listVolumes(client: IsulaClient): Promise<VolumeSummary[]> {
  const res = checkInBand(await client.call(VolumeService.methods.List, {}));
  return res.volumes.map((v) => ({ driver: v.driver, name: v.name }));
}

/** Deletes one volume; the daemon refuses one a container uses. */
export async function removeVolume(client: IsulaClient, name: string): Promise<void> {
  checkInBand(await client.call(VolumeService.methods.Remove, { name }));
}

/** Deletes every volume no container uses; resolves with their names. */
export async function pruneVolumes(client: IsulaClient): Promise<string[]> {
  return checkInBand(await client.call(VolumeService.methods.Prune, {})).volumes;
}
