import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'vitest';
import { applyTar } from './tar-apply';
import { makeTar } from './test-helpers';

it('bench', async () => {
  const root = mkdtempSync('/tmp/isulad-bench-');
  const big = Array.from({ length: 100 }, (_, i) => { const b = Buffer.alloc(1024*1024); for (let j=0;j<b.length;j+=4) b.writeUInt32LE((Math.imul(j+1,2654435761)^i)>>>0,j); return { name: `data/f${i}`, content: b }; });
  const small = Array.from({ length: 2000 }, (_, i) => ({ name: `small/${i % 50}/f${i}`, content: `file ${i}\n`.repeat(20) }));
  for (const [label, entries] of [['big', big], ['small', small]] as const) {
    const tar = await makeTar(entries as any);
    const f = join(root, `${label}.tar`); writeFileSync(f, tar);
    for (const manifest of [false, true]) {
      const d = join(root, `${label}-${manifest}`); mkdirSync(d);
      const t0 = performance.now();
      await applyTar(createReadStream(f), d, { manifest });
      const ms = performance.now() - t0;
      console.log(`${label} manifest=${manifest}: ${(tar.length/1e6).toFixed(1)} MB ${ms.toFixed(0)} ms ${(tar.length/1e6/(ms/1000)).toFixed(1)} MB/s`);
    }
    const d2 = join(root, `${label}-gnutar`); mkdirSync(d2);
    const t1 = performance.now(); execFileSync('tar', ['-xf', f, '-C', d2, '--same-owner', '-p']); console.log(`${label} gnu tar ${(performance.now()-t1).toFixed(0)} ms`);
  }
  rmSync(root, { recursive: true, force: true });
}, 600000);
