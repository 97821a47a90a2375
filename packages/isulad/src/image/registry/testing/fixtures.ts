/** The test image, pushed in every format the client must read. */
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { MediaTypes } from '../media-types';
import { imageConfig, type Pusher, sha256, tarLayer, type TestLayer } from './harness';

export interface PushedManifest {
  digest: string;
  size: number;
  body: Buffer;
}

export interface Fixtures {
  repo: string;
  layers: TestLayer[];
  configAmd64: Buffer;
  configArm64: Buffer;
  /** tags: v2, oci, list, index, mixed */
  v2: PushedManifest;
  oci: PushedManifest;
  v2Arm64: PushedManifest;
  ociArm64: PushedManifest;
  list: PushedManifest;
  index: PushedManifest;
  /** OCI manifest with tar, tar+zstd and tar+gzip layers. */
  mixed: PushedManifest;
  mixedConfig: Buffer;
}

function manifest(mediaType: string, configType: string, config: Buffer, layers: Array<{ mediaType: string; data: Buffer }>): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: configType, digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: sha256(l.data), size: l.data.length })),
    }),
  );
}

export async function pushTestImage(p: Pusher, repo: string): Promise<Fixtures> {
  const layers = [
    tarLayer({ 'etc/hello.txt': 'hello from layer one\n', 'bin/tool': '#!/bin/sh\necho tool\n' }),
    tarLayer({ 'etc/second.txt': 'second layer\n' }),
  ];
  const diffIds = layers.map((l) => l.diffId);
  const configAmd64 = imageConfig('amd64', diffIds);
  const configArm64 = imageConfig('arm64', diffIds, 'v8');
  for (const b of [...layers.map((l) => l.data), configAmd64, configArm64]) await p.blob(repo, b);

  const push = async (tag: string, mediaType: string, body: Buffer): Promise<PushedManifest> => {
    const digest = await p.manifest(repo, tag, body, mediaType);
    return { digest, size: body.length, body };
  };
  const dockerLayers = layers.map((l) => ({ mediaType: MediaTypes.DockerLayerGzip, data: l.data }));
  const ociLayers = layers.map((l) => ({ mediaType: MediaTypes.OciLayerGzip, data: l.data }));
  const v2 = await push('v2', MediaTypes.DockerManifest, manifest(MediaTypes.DockerManifest, MediaTypes.DockerConfig, configAmd64, dockerLayers));
  const oci = await push('oci', MediaTypes.OciManifest, manifest(MediaTypes.OciManifest, MediaTypes.OciConfig, configAmd64, ociLayers));
  const v2ArmBody = manifest(MediaTypes.DockerManifest, MediaTypes.DockerConfig, configArm64, dockerLayers);
  const v2Arm64 = await push(sha256(v2ArmBody), MediaTypes.DockerManifest, v2ArmBody);
  const ociArmBody = manifest(MediaTypes.OciManifest, MediaTypes.OciConfig, configArm64, ociLayers);
  const ociArm64 = await push(sha256(ociArmBody), MediaTypes.OciManifest, ociArmBody);

  const entry = (m: PushedManifest, mediaType: string, architecture: string, variant?: string) => ({
    mediaType,
    digest: m.digest,
    size: m.size,
    platform: { architecture, os: 'linux', ...(variant ? { variant } : {}) },
  });
  const list = await push(
    'list',
    MediaTypes.DockerManifestList,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.DockerManifestList,
        manifests: [entry(v2Arm64, MediaTypes.DockerManifest, 'arm64', 'v8'), entry(v2, MediaTypes.DockerManifest, 'amd64')],
      }),
    ),
  );
  const index = await push(
    'index',
    MediaTypes.OciIndex,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.OciIndex,
        manifests: [entry(oci, MediaTypes.OciManifest, 'amd64'), entry(ociArm64, MediaTypes.OciManifest, 'arm64', 'v8')],
      }),
    ),
  );

  // tar, tar+zstd, tar+gzip
  const plain = gunzipSync(layers[0]!.data);
  const zstd = execFileSync('zstd', ['-q', '-c'], { input: gunzipSync(layers[1]!.data) });
  for (const b of [plain, zstd]) await p.blob(repo, b);
  const mixedConfig = imageConfig('amd64', [sha256(plain), layers[1]!.diffId, layers[0]!.diffId]);
  await p.blob(repo, mixedConfig);
  const mixed = await push(
    'mixed',
    MediaTypes.OciManifest,
    manifest(MediaTypes.OciManifest, MediaTypes.OciConfig, mixedConfig, [
      { mediaType: MediaTypes.OciLayerTar, data: plain },
      { mediaType: MediaTypes.OciLayerZstd, data: zstd },
      { mediaType: MediaTypes.OciLayerGzip, data: layers[0]!.data },
    ]),
  );
  return { repo, layers, configAmd64, configArm64, v2, oci, v2Arm64, ociArm64, list, index, mixed, mixedConfig };
}
