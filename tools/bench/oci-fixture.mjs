/**
 * Generates a synthetic container image as an OCI image layout (for the bench's `images` section):
 * layers of incompressible (random) data written as gzip-compressed tars, an OCI config listing
 * their diff ids, a manifest and index.json. No dependencies beyond node:*.
 *
 *   const img = await writeOciLayout(dir, { layers: benchLayers() });
 *   // skopeo copy oci:<dir>:latest docker://...
 */
import { createHash, randomFillSync } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import zlib from 'node:zlib';

const MiB = 1024 * 1024;
const BLOCK = 512;
const MTIME = 1_700_000_000; // fixed, so only the random content differs between runs

/** The default image: 5 layers of 4 x 9.5 MiB files (38 MiB each) + 1 small layer of 300 files of 1..16 KiB (~2.5 MiB): ~192 MiB (~202 MB). */
export function benchLayers({ bigLayers = 5, filesPerBig = 4, fileBytes = 9.5 * MiB, smallFiles = 300 } = {}) {
  const layers = [];
  for (let l = 0; l < bigLayers; l++) {
    const entries = [{ name: 'data/', dir: true }, { name: `data/l${l}/`, dir: true }];
    for (let f = 0; f < filesPerBig; f++) entries.push({ name: `data/l${l}/blob-${f}.bin`, size: Math.round(fileBytes) });
    layers.push(entries);
  }
  const small = [{ name: 'etc/', dir: true }, { name: 'etc/bench/', dir: true }];
  for (let d = 0; d < 10; d++) small.push({ name: `etc/bench/d${d}/`, dir: true });
  for (let f = 0; f < smallFiles; f++) small.push({ name: `etc/bench/d${f % 10}/f${f}.conf`, size: 1024 + ((f * 7919) % 15) * 1024 });
  layers.push(small);
  return layers;
}

function octal(n, width) {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One ustar header block. */
function tarHeader({ name, size = 0, dir = false }) {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long for this writer: ${name}`);
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(dir ? 0o755 : 0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(dir ? 0 : size, 12), 124, 'ascii');
  h.write(octal(MTIME, 12), 136, 'ascii');
  h.fill(0x20, 148, 156); // checksum field counts as spaces
  h.write(dir ? '5' : '0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

/**
 * Writes one layer: tar bytes -> sha256 (diff id) -> gzip -> sha256 (blob digest) -> file.
 * Returns { digest, size, diffId, tarBytes, files }.
 */
async function writeLayer(blobsDir, entries, gzipLevel) {
  const tmp = path.join(blobsDir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const out = createWriteStream(tmp);
  const gz = zlib.createGzip({ level: gzipLevel });
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  let size = 0;
  let tarBytes = 0;
  gz.on('data', (c) => {
    blob.update(c);
    size += c.length;
    if (!out.write(c)) {
      gz.pause();
      out.once('drain', () => gz.resume());
    }
  });
  const gzEnded = once(gz, 'end');
  const put = async (buf) => {
    diff.update(buf);
    tarBytes += buf.length;
    if (!gz.write(buf)) await once(gz, 'drain');
  };
  const chunk = Buffer.allocUnsafe(MiB);
  for (const e of entries) {
    await put(tarHeader(e));
    if (e.dir) continue;
    let left = e.size;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      randomFillSync(chunk, 0, n);
      await put(Buffer.from(chunk.subarray(0, n))); // a copy: gzip may hold on to it
      left -= n;
    }
    const pad = (BLOCK - (e.size % BLOCK)) % BLOCK;
    if (pad) await put(Buffer.alloc(pad));
  }
  await put(Buffer.alloc(2 * BLOCK));
  gz.end();
  await gzEnded;
  out.end();
  await once(out, 'finish');
  const hex = blob.digest('hex');
  renameSync(tmp, path.join(blobsDir, hex));
  return { digest: `sha256:${hex}`, size, diffId: `sha256:${diff.digest('hex')}`, tarBytes, files: entries.filter((e) => !e.dir).length };
}

function writeBlob(blobsDir, json) {
  const bytes = Buffer.from(JSON.stringify(json));
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(path.join(blobsDir, hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/**
 * Writes an OCI image layout into `dir` (created) with tag `tag`. Options: layers (lists of tar
 * entries, see benchLayers), gzipLevel (default 6, gzip's default). Returns a summary.
 */
export async function writeOciLayout(dir, { layers = benchLayers(), tag = 'latest', gzipLevel = 6 } = {}) {
  const blobsDir = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobsDir, { recursive: true });
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const written = [];
  for (const entries of layers) written.push(await writeLayer(blobsDir, entries, gzipLevel));
  const created = new Date(MTIME * 1000).toISOString();
  const config = writeBlob(blobsDir, {
    created,
    architecture: process.arch === 'x64' ? 'amd64' : process.arch,
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: written.map((l) => l.diffId) },
    history: written.map((l, i) => ({ created, created_by: `bench layer ${i}: ${l.files} files of random data` })),
  });
  const manifest = writeBlob(blobsDir, {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: written.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  });
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return {
    layers: written,
    config,
    manifest,
    compressedBytes: written.reduce((a, l) => a + l.size, 0),
    uncompressedBytes: written.reduce((a, l) => a + l.tarBytes, 0),
    files: written.reduce((a, l) => a + l.files, 0),
  };
}
