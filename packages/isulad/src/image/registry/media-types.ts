/** Media types of docker schema2 and OCI images, and the Accept list the client sends. */

export const MediaTypes = {
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerForeignLayerTar: 'application/vnd.docker.image.rootfs.foreign.diff.tar',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciForeignLayerTar: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciForeignLayerGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciForeignLayerZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
} as const;

/**
 * Sent on every manifest GET. distribution 2.8 converts a schema2 image to schema1 when the
 * docker type is missing, and answers 404 for OCI manifests/indexes when the OCI types are
 * missing, so all four are always named.
 */
export const MANIFEST_ACCEPT = [
  MediaTypes.DockerManifest,
  MediaTypes.DockerManifestList,
  MediaTypes.OciManifest,
  MediaTypes.OciIndex,
].join(', ');

export type LayerCompression = 'gzip' | 'zstd' | 'none';

const LAYER_COMPRESSION: Record<string, LayerCompression> = {
  [MediaTypes.DockerLayerGzip]: 'gzip',
  [MediaTypes.DockerLayerTar]: 'none',
  [MediaTypes.DockerForeignLayerGzip]: 'gzip',
  [MediaTypes.DockerForeignLayerTar]: 'none',
  [MediaTypes.OciLayerTar]: 'none',
  [MediaTypes.OciLayerGzip]: 'gzip',
  [MediaTypes.OciLayerZstd]: 'zstd',
  [MediaTypes.OciForeignLayerTar]: 'none',
  [MediaTypes.OciForeignLayerGzip]: 'gzip',
  [MediaTypes.OciForeignLayerZstd]: 'zstd',
};

/** How a layer of this media type is compressed; undefined for a type that is not a layer. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return LAYER_COMPRESSION[mediaType];
}

export function isForeignLayer(mediaType: string): boolean {
  return mediaType.includes('.foreign.') || mediaType.includes('.nondistributable.');
}

export const CONFIG_MEDIA_TYPES: readonly string[] = [MediaTypes.DockerConfig, MediaTypes.OciConfig];
