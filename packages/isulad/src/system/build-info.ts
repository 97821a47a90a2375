import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BuildInfo {
  version: string;
  gitCommit: string;
  buildTime: string;
}

let cached: BuildInfo | undefined;

/** Written by the build next to the compiled code (dist/build-info.json). */
export function buildInfo(): BuildInfo {
  if (cached) return cached;
  try {
    // dist/build-info.json, next to the bundle (dist/) or above the compiled files (dist/system/).
    const file = [join(__dirname, 'build-info.json'), join(__dirname, '..', 'build-info.json')].find((f) => existsSync(f));
    cached = JSON.parse(readFileSync(file ?? '', 'utf8')) as BuildInfo;
  } catch {
    cached = { version: '0.0.0', gitCommit: 'unknown', buildTime: 'unknown' };
  }
  return cached;
}
