#!/usr/bin/env node
// A minimal Docker authorization plugin for tests of `isulad --authorization-plugin authz-broker`.
//
//   node plugin.mjs --socket PATH --allow alice[,carol] [--log FILE]
//
// Serves on the unix socket PATH (created fresh, removed on exit):
//   POST /Plugin.Activate        → {"Implements":["authz"]}
//   POST /AuthZPlugin.AuthZReq   → {"Allow":true} for a listed User, else
//                                  {"Allow":false,"Msg":"user <u> is not allowed to <action>"}
//                                  (<action> = RequestHeaders["isulad-action"])
//   POST /AuthZPlugin.AuthZRes   → {"Allow":true}
// With --log, each AuthZReq is appended to FILE as one JSON line {User, UserAuthNMethod, RequestURI, action}.
// Prints "ready" on stdout once listening; SIGTERM or SIGINT closes it, removes the socket, exit 0.
// Plain Node, no dependencies.
import { appendFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';

function parseArgs(argv) {
  const out = { socket: '', allow: [], log: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--socket') out.socket = value();
    else if (a === '--allow') out.allow.push(...value().split(',').filter((u) => u !== ''));
    else if (a === '--log') out.log = value();
    else usage(`unknown argument ${a}`);
  }
  if (!out.socket) usage('--socket is required');
  return out;
}

function usage(problem) {
  process.stderr.write(`authz-test-plugin: ${problem}\nusage: node plugin.mjs --socket PATH --allow alice[,carol] [--log FILE]\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const allowed = new Set(opts.allow);

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const reply = (status, obj) => {
      res.writeHead(status, { 'Content-Type': 'application/vnd.docker.plugins.v1.2+json' });
      res.end(typeof obj === 'string' ? obj : JSON.stringify(obj));
    };
    if (req.method !== 'POST') return reply(405, 'method not allowed');
    if (req.url === '/Plugin.Activate') return reply(200, { Implements: ['authz'] });
    if (req.url === '/AuthZPlugin.AuthZRes') return reply(200, { Allow: true });
    if (req.url !== '/AuthZPlugin.AuthZReq') return reply(404, '404 page not found');
    let q;
    try {
      q = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    } catch {
      return reply(200, { Allow: false, Err: 'invalid JSON request' });
    }
    const user = typeof q.User === 'string' ? q.User : '';
    const action = (q.RequestHeaders && q.RequestHeaders['isulad-action']) || q.RequestURI || '';
    if (opts.log) {
      appendFileSync(opts.log, `${JSON.stringify({ User: user, UserAuthNMethod: q.UserAuthNMethod ?? '', RequestURI: q.RequestURI ?? '', action })}\n`);
    }
    if (allowed.has(user)) return reply(200, { Allow: true });
    return reply(200, { Allow: false, Msg: `user ${user} is not allowed to ${action}` });
  });
});

rmSync(opts.socket, { force: true });
server.listen(opts.socket, () => process.stdout.write('ready\n'));
server.on('error', (err) => {
  process.stderr.write(`authz-test-plugin: ${err.message}\n`);
  process.exit(1);
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  server.close(() => {
    rmSync(opts.socket, { force: true }); // net already unlinks it; be sure
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
