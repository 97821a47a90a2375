#!/usr/bin/env node
// isula-certs: the TLS certificates for isulad remote access (see README.md, `isula-certs --help`).
import { main } from './main.js';

void main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
}).then((code) => {
  process.exitCode = code;
});
