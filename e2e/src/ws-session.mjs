#!/usr/bin/env node
// A CRI streaming client for the e2e suite, run inside the daemon's network namespace (the streaming
// server listens there): `node ws-session.mjs exec URL [STDIN_TEXT] [--resize WxH] [--for MS]` speaks
// v5.channel.k8s.io, writes STDIN_TEXT then closes stdin (v5 close frame), and prints one JSON line:
// {protocol, stdout, stderr, status}. `node ws-session.mjs portforward URL PORT REQUEST_TEXT` speaks
// v4.channel.k8s.io, sends REQUEST_TEXT on the port's data channel and prints {protocol, data, error}.
import WebSocket from 'ws';

const [mode, url, ...rest] = process.argv.slice(2);

function done(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

if (mode === 'exec') {
  const resizeAt = rest.indexOf('--resize');
  const resize = resizeAt >= 0 ? rest.splice(resizeAt, 2)[1] : undefined;
  // --for MS: leave after MS (an attach session lasts as long as the container otherwise).
  const forAt = rest.indexOf('--for');
  const forMs = forAt >= 0 ? Number(rest.splice(forAt, 2)[1]) : undefined;
  const input = rest[0];
  const ws = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
  const out = { protocol: '', stdout: '', stderr: '', status: undefined };
  ws.on('open', () => {
    out.protocol = ws.protocol;
    if (resize) {
      const [w, h] = resize.split('x').map(Number);
      ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: w, Height: h }))]));
    }
    if (input !== undefined) {
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(input)]));
      setTimeout(() => ws.send(Buffer.from([255, 0])), 200);
    }
  });
  ws.on('message', (data) => {
    const b = Buffer.from(data);
    const ch = b[0];
    const payload = b.subarray(1).toString();
    if (ch === 1) out.stdout += payload;
    else if (ch === 2) out.stderr += payload;
    else if (ch === 3 && payload) out.status = JSON.parse(payload);
  });
  if (forMs !== undefined) setTimeout(() => ws.close(1000), forMs);
  ws.on('close', () => done(out));
  ws.on('error', (err) => done({ ...out, error: err.message }));
} else if (mode === 'portforward') {
  const [port, request] = rest;
  const ws = new WebSocket(`${url}${url.includes('?') ? '&' : '?'}port=${port}`, ['v4.channel.k8s.io']);
  const out = { protocol: '', data: '', error: '' };
  const seen = new Set();
  ws.on('open', () => {
    out.protocol = ws.protocol;
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(request)]));
  });
  ws.on('message', (data) => {
    const b = Buffer.from(data);
    const ch = b[0];
    let payload = b.subarray(1);
    // The first frame of each channel carries the port (2 bytes, little-endian).
    if (!seen.has(ch)) {
      seen.add(ch);
      payload = payload.subarray(2);
    }
    if (ch === 0) out.data += payload.toString();
    else if (ch === 1) out.error += payload.toString();
  });
  setTimeout(() => ws.close(), 3000);
  ws.on('close', () => done(out));
  ws.on('error', (err) => done({ ...out, error: err.message }));
} else {
  process.stderr.write('usage: ws-session.mjs exec URL [STDIN] [--resize WxH] | portforward URL PORT REQUEST\n');
  process.exit(2);
}
