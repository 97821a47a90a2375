import { readFileSync } from 'node:fs';
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
    cached = JSON.parse(readFileSync(join(__dirname, '..', 'build-info.json'), 'utf8')) as BuildInfo;
  } catch {
    cached = { version: '0.0.0', gitCommit: 'unknown', buildTime: 'unknown' };
  }
  return cached;
}
