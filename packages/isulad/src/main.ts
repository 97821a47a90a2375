#!/usr/bin/env -S node --
import { runDaemon } from './daemon/boot';

runDaemon(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`isulad: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
