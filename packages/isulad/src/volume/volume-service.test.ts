import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, VolumeService, type MethodDescriptor } from '@isula/protocol';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { MetadataDb } from '../metadata/db';
import type { CallContext } from '../server/grpc-adapter';
import { volumeService } from '../server/services/volume-service';
import { captureLogger } from '../storage/test-helpers';
import { Volumes } from './volumes';

let tmp: string;
let db: MetadataDb;
let volumes: Volumes;
const ctx = {} as CallContext;

beforeEach(async () => {
  tmp = realpathSync(mkdtempSync('/tmp/isulad-volsvc-'));
  db = MetadataDb.open(join(tmp, 'isulad.db'));
  volumes = await Volumes.open({ db, root: join(tmp, 'volumes'), logger: captureLogger().logger });
});

afterEach(() => {
  db.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Through the wire codecs, as a client would see the answer. */
const roundTrip = (method: 'List' | 'Remove' | 'Prune', res: object): unknown => {
  const m = VolumeService.methods[method] as MethodDescriptor<unknown, unknown>;
  return m.decode(m.encodeResponse(m.createResponse(res)));
};

it('List, Remove and Prune map onto the domain with in-band errors', async () => {
  const svc = volumeService(volumes);
  await volumes.ensure('b-vol');
  await volumes.ensure('a-vol');
  volumes.addRef('a-vol', 'c1');

  expect(roundTrip('List', await svc.List!({}, ctx))).toEqual({ volumes: [{ driver: 'local', name: 'a-vol' }, { driver: 'local', name: 'b-vol' }], cc: 0, errmsg: '' });
  expect(roundTrip('Remove', await svc.Remove!({ name: 'a-vol' }, ctx))).toEqual({ cc: ErrorCode.EXEC, errmsg: 'remove volume a-vol failed: volume is used by container c1' });
  expect(roundTrip('Remove', await svc.Remove!({ name: 'nope' }, ctx))).toEqual({ cc: ErrorCode.EXEC, errmsg: 'No such volume: nope' });
  expect(roundTrip('Remove', await svc.Remove!({ name: '' }, ctx))).toMatchObject({ cc: ErrorCode.INPUT });
  expect(roundTrip('Prune', await svc.Prune!({}, ctx))).toEqual({ volumes: ['b-vol'], cc: 0, errmsg: '' });
  await volumes.releaseContainer('c1', false);
  expect(roundTrip('Remove', await svc.Remove!({ name: 'a-vol' }, ctx))).toEqual({ cc: 0, errmsg: '' });
  expect(volumes.list()).toEqual([]);
});
