import { it } from 'vitest';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RotatingFile } from './logger';
it('exp', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rot-'));
  const f = new RotatingFile(join(dir, 'isulad.log'), { logPath: dir, logFileMode: 0o640, maxFile: 3, maxSize: 4096 });
  const line = 'x'.repeat(99) + '\n';
  try {
    for (let i = 0; i < 200; i++) f.write(line);
  } catch (e) { console.log('THROW', e); }
  f.flushSync();
  await new Promise((r) => setTimeout(r, 100));
  for (const n of readdirSync(dir)) console.log(n, statSync(join(dir, n)).size, (statSync(join(dir, n)).mode & 0o777).toString(8));
});
