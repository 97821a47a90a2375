/**
 * Kubernetes CRI v1 against a real isulad, the way kubelet and crictl drive it: a @grpc/grpc-js
 * client (cri-client.ts) on the daemon's unix socket. Flows modelled on the CRI validation suite:
 * runtime info, pod lifecycle (hostname, DNS, labels, annotations), containers sharing the pod's
 * network namespace, ExecSync, Kubernetes-format logs, images, and a daemon restart.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cri, type DeepPartial } from '@isula/cri-api';
import { REPO, run, sleep, waitFor, type TestDaemon } from './harness';
import { containerSuite, ok } from './containers-fixtures';
import { criClient, type CriClient } from './cri-client';
import { busyboxImage, pauseImage, startRegistry, type Registry } from './images-fixtures';

const suite = containerSuite('cri');
const clients: CriClient[] = [];
const registries: Registry[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(registries.splice(0).map((r) => r.stop()));
  await suite.stopDaemons();
});

const WS_SESSION = join(REPO, 'e2e/src/ws-session.mjs');

/** The streaming client, run in the daemon's network namespace (where the streaming server listens). */
async function wsSession(d: TestDaemon, args: string[]): Promise<Record<string, unknown>> {
  const r = await run('nsenter', ['-t', String(d.pid()), '-n', 'node', WS_SESSION, ...args], { timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}
afterAll(() => suite.finish());

async function criDaemon(opts: { respawn?: boolean; daemonJson?: object } = {}): Promise<{ d: TestDaemon; c: CriClient }> {
  const d = await suite.daemonWithBusybox({ respawn: opts.respawn, daemonJson: opts.daemonJson });
  await ok(d, ['load', '-i', (await pauseImage()).tar]);
  const c = criClient(d.sock);
  clients.push(c);
  return { d, c };
}

const text = (b: Uint8Array) => Buffer.from(b).toString();

function podConfig(name: string, logDirectory: string, extra: DeepPartial<cri.PodSandboxConfig> = {}): DeepPartial<cri.PodSandboxConfig> {
  return {
    metadata: { name, namespace: 'e2e', uid: `uid-${name}`, attempt: 0 },
    hostname: `${name}-host`,
    logDirectory,
    dnsConfig: { servers: ['10.96.0.10'], searches: ['e2e.svc.cluster.local'], options: ['ndots:5'] },
    labels: { app: name, tier: 'test' },
    annotations: { 'e2e/note': 'hello' },
    linux: { securityContext: { namespaceOptions: { network: cri.NamespaceMode.POD, pid: cri.NamespaceMode.CONTAINER, ipc: cri.NamespaceMode.POD } } },
    ...extra,
  };
}

function containerConfig(name: string, args: string[], extra: DeepPartial<cri.ContainerConfig> = {}): DeepPartial<cri.ContainerConfig> {
  return {
    metadata: { name, attempt: 0 },
    image: { image: 'busybox' },
    command: ['/bin/sh', '-c'],
    args,
    logPath: `${name}.log`,
    labels: { role: name },
    ...extra,
  };
}

describe('CRI v1', () => {
  it('answers Version, Status and RuntimeConfig; unsupported RPCs say UNIMPLEMENTED', async () => {
    const { c } = await criDaemon();
    const v = await c.runtime.version({ version: 'v1' });
    expect(v).toMatchObject({ runtimeName: 'iSulad', runtimeApiVersion: 'v1' });
    expect(v.runtimeVersion).not.toBe('');
    const st = await c.runtime.status({});
    const conditions = Object.fromEntries((st.status?.conditions ?? []).map((x) => [x.type, x.status]));
    expect(conditions).toEqual({ RuntimeReady: true, NetworkReady: true });
    const rc = await c.runtime.runtimeConfig({});
    expect(rc.linux?.cgroupDriver).toBe(cri.CgroupDriver.CGROUPFS);
    const err = await c.runtime.checkpointContainer({ containerId: 'x' }).then(
      () => undefined,
      (e: { code: number; details: string }) => e,
    );
    expect(err?.code).toBe(12); // UNIMPLEMENTED
    expect(err?.details).not.toBe('');
  });

  it('pod lifecycle: hostname, DNS, labels and annotations; status, list filters, stop and remove', async () => {
    const { d, c } = await criDaemon();
    const logDir = d.path('pods', 'web');
    const { podSandboxId: pod } = await c.runtime.runPodSandbox({ config: podConfig('web', logDir) });
    expect(pod).toMatch(/^[0-9a-f]{64}$/);

    const st = (await c.runtime.podSandboxStatus({ podSandboxId: pod })).status!;
    expect(st.state).toBe(cri.PodSandboxState.SANDBOX_READY);
    expect(st.metadata).toMatchObject({ name: 'web', namespace: 'e2e', uid: 'uid-web' });
    expect(st.labels).toMatchObject({ app: 'web', tier: 'test' });
    expect(st.annotations).toMatchObject({ 'e2e/note': 'hello' });
    expect(st.createdAt).toBeGreaterThan(0n);

    const { containerId } = await c.runtime.createContainer({ podSandboxId: pod, config: containerConfig('app', ['sleep 1000']), sandboxConfig: podConfig('web', logDir) });
    await c.runtime.startContainer({ containerId });
    const host = await c.runtime.execSync({ containerId, cmd: ['hostname'], timeout: 10n });
    expect(text(host.stdout).trim()).toBe('web-host');
    const resolv = text((await c.runtime.execSync({ containerId, cmd: ['cat', '/etc/resolv.conf'], timeout: 10n })).stdout);
    expect(resolv).toContain('nameserver 10.96.0.10');
    expect(resolv).toContain('search e2e.svc.cluster.local');
    expect(resolv).toContain('options ndots:5');

    const byLabel = await c.runtime.listPodSandbox({ filter: { labelSelector: { app: 'web' } } });
    expect(byLabel.items.map((p) => p.id)).toEqual([pod]);
    expect((await c.runtime.listPodSandbox({ filter: { labelSelector: { app: 'nope' } } })).items).toEqual([]);
    const ctrs = await c.runtime.listContainers({ filter: { podSandboxId: pod } });
    expect(ctrs.containers.map((x) => x.id)).toEqual([containerId]);
    expect(ctrs.containers[0]!.state).toBe(cri.ContainerState.CONTAINER_RUNNING);

    await c.runtime.stopPodSandbox({ podSandboxId: pod });
    expect((await c.runtime.podSandboxStatus({ podSandboxId: pod })).status!.state).toBe(cri.PodSandboxState.SANDBOX_NOTREADY);
    expect((await c.runtime.containerStatus({ containerId })).status!.state).toBe(cri.ContainerState.CONTAINER_EXITED);
    await c.runtime.stopPodSandbox({ podSandboxId: pod }); // idempotent
    await c.runtime.removePodSandbox({ podSandboxId: pod });
    await c.runtime.removePodSandbox({ podSandboxId: pod }); // idempotent
    expect((await c.runtime.listPodSandbox({})).items).toEqual([]);
    expect((await c.runtime.listContainers({})).containers).toEqual([]);
    // Nothing of the pod is left behind for isula either.
    expect((await ok(d, ['ps', '-a', '-q'])).stdout.trim()).toBe('');
  }, 120_000);

  it("containers of a pod share its network namespace; ExecSync returns output and exit code; logs are in Kubernetes' format", async () => {
    const { d, c } = await criDaemon();
    const logDir = d.path('pods', 'net');
    const { podSandboxId: pod } = await c.runtime.runPodSandbox({ config: podConfig('net', logDir) });
    const sb = podConfig('net', logDir);
    const a = await c.runtime.createContainer({ podSandboxId: pod, config: containerConfig('server', ['echo started; echo oops >&2; while :; do echo pong | nc -l -p 7777; done']), sandboxConfig: sb });
    const b = await c.runtime.createContainer({ podSandboxId: pod, config: containerConfig('client', ['sleep 1000']), sandboxConfig: sb });
    await c.runtime.startContainer({ containerId: a.containerId });
    await c.runtime.startContainer({ containerId: b.containerId });

    const ns = async (id: string) => text((await c.runtime.execSync({ containerId: id, cmd: ['readlink', '/proc/self/ns/net'], timeout: 10n })).stdout).trim();
    expect(await ns(a.containerId)).toBe(await ns(b.containerId));
    // Through the shared loopback.
    const reply = await waitFor('the server answers on 127.0.0.1:7777', async () => {
      const r = await c.runtime.execSync({ containerId: b.containerId, cmd: ['sh', '-c', 'echo ping | nc -w 2 127.0.0.1 7777'], timeout: 10n });
      return text(r.stdout).includes('pong') ? r : undefined;
    });
    expect(reply.exitCode).toBe(0);
    // The pod has only lo (network-plugin "").
    const links = text((await c.runtime.execSync({ containerId: b.containerId, cmd: ['ls', '/sys/class/net'], timeout: 10n })).stdout).trim().split(/\s+/);
    expect(links).toEqual(['lo']);

    const r = await c.runtime.execSync({ containerId: b.containerId, cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], timeout: 10n });
    expect({ out: text(r.stdout), err: text(r.stderr), code: r.exitCode }).toEqual({ out: 'out\n', err: 'err\n', code: 3 });

    const status = (await c.runtime.containerStatus({ containerId: a.containerId })).status!;
    expect(status.logPath).toBe(join(logDir, 'server.log'));
    const log = await waitFor('log lines', () => {
      const t = existsSync(status.logPath) ? readFileSync(status.logPath, 'utf8') : '';
      return t.includes('oops') ? t : undefined;
    });
    const lines = log.trim().split('\n');
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [FP] /);
    expect(lines).toContainEqual(expect.stringMatching(/ stdout F started$/));
    expect(lines).toContainEqual(expect.stringMatching(/ stderr F oops$/));

    await c.runtime.stopContainer({ containerId: b.containerId, timeout: 2n });
    const exited = (await c.runtime.containerStatus({ containerId: b.containerId })).status!;
    expect(exited.state).toBe(cri.ContainerState.CONTAINER_EXITED);
    expect(exited.finishedAt).toBeGreaterThan(exited.startedAt);
    await c.runtime.stopPodSandbox({ podSandboxId: pod });
    await c.runtime.removePodSandbox({ podSandboxId: pod });
  }, 120_000);

  it('images: list, status (a missing image is no error), remove, ImageFsInfo', async () => {
    const { c } = await criDaemon();
    const list = await c.images.listImages({});
    const busybox = list.images.find((i) => i.repoTags.some((t) => /busybox/.test(t)));
    expect(busybox?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(busybox!.size).toBeGreaterThan(0n);
    const st = await c.images.imageStatus({ image: { image: 'busybox' } });
    expect(st.image?.id).toBe(busybox!.id);
    expect((await c.images.imageStatus({ image: { image: 'no-such-image:1' } })).image).toBeUndefined();
    const fs = await c.images.imageFsInfo({});
    expect(fs.imageFilesystems[0]?.usedBytes?.value).toBeGreaterThan(0n);
    await c.images.removeImage({ image: { image: busybox!.id } });
    expect((await c.images.imageStatus({ image: { image: 'busybox' } })).image).toBeUndefined();
    await c.images.removeImage({ image: { image: 'no-such-image:1' } }); // not an error in CRI
  }, 120_000);

  it('streaming: Exec over WebSocket with stdin, with a tty and a resize; Attach; PortForward to an httpd in the pod', async () => {
    const { d, c } = await criDaemon();
    const logDir = d.path('pods', 'stream');
    const sb = podConfig('stream', logDir);
    const { podSandboxId: pod } = await c.runtime.runPodSandbox({ config: sb });
    const web = await c.runtime.createContainer({
      podSandboxId: pod,
      config: containerConfig('web', ['mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www']),
      sandboxConfig: sb,
    });
    await c.runtime.startContainer({ containerId: web.containerId });

    const { url } = await c.runtime.exec({ containerId: web.containerId, cmd: ['sh', '-c', 'tr a-z A-Z; echo bye >&2; exit 7'], stdin: true, stdout: true, stderr: true });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:10350\//);
    const ex = await wsSession(d, ['exec', url.replace(/^http/, 'ws'), 'shout\n']);
    expect(ex.protocol).toBe('v5.channel.k8s.io');
    expect(ex.stdout).toBe('SHOUT\n');
    expect(ex.stderr).toBe('bye\n');
    expect(ex.status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '7' }] } });
    // A URL is good for one session only.
    const again = await run('nsenter', ['-t', String(d.pid()), '-n', 'node', WS_SESSION, 'exec', url.replace(/^http/, 'ws')]);
    expect(again.stdout).toMatch(/Unexpected server response: 404/);

    const tty = await c.runtime.exec({ containerId: web.containerId, cmd: ['sh', '-c', 'sleep 0.5; stty size; tty'], tty: true, stdin: true, stdout: true });
    const t = await wsSession(d, ['exec', tty.url.replace(/^http/, 'ws'), '', '--resize', '120x40']);
    expect(t.stdout).toMatch(/40 120\r?\n\/dev\/pts\/\d+/);
    expect(t.status).toMatchObject({ status: 'Success' });

    // Attach to a container reading its stdin: what is typed comes back through its output; the
    // container runs on after the client leaves.
    const echo = await c.runtime.createContainer({ podSandboxId: pod, config: containerConfig('echo', ['while read l; do echo "got $l"; done'], { stdin: true }), sandboxConfig: sb });
    await c.runtime.startContainer({ containerId: echo.containerId });
    const at = await c.runtime.attach({ containerId: echo.containerId, stdin: true, stdout: true, stderr: true });
    const att = await wsSession(d, ['exec', at.url.replace(/^http/, 'ws'), 'hello attach\n', '--for', '1500']);
    expect(att.stdout).toBe('got hello attach\n');
    expect((await c.runtime.containerStatus({ containerId: echo.containerId })).status!.state).toBe(cri.ContainerState.CONTAINER_RUNNING);

    // Each URL is good for one session: ask for a new one per try (httpd may still be starting).
    const fwd = await waitFor('httpd answers through the port forward', async () => {
      const pf = await c.runtime.portForward({ podSandboxId: pod, port: [8080] });
      const r = await wsSession(d, ['portforward', pf.url.replace(/^http/, 'ws'), '8080', 'GET /index.html HTTP/1.0\r\n\r\n']);
      return String(r.data).includes('hello-from-pod') ? r : undefined;
    }, 20_000, 300);
    expect(fwd.data).toContain('hello-from-pod');
    await c.runtime.stopPodSandbox({ podSandboxId: pod });
    await c.runtime.removePodSandbox({ podSandboxId: pod });
  }, 120_000);

  it('CNI: a bridge network set up inside the daemon\'s private network namespace gives the pod an IP, kept across a daemon kill -9, freed at stop', async () => {
    const cniDir = `/tmp/ie2e-cni-${process.pid}`;
    mkdirSync(join(cniDir, 'net.d'), { recursive: true });
    writeFileSync(
      join(cniDir, 'net.d', '10-e2e.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'e2e-net',
        plugins: [
          { type: 'bridge', bridge: 'ie2e-br0', isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: '10.231.7.0/24' }]], dataDir: join(cniDir, 'ipam') } },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }),
    );
    try {
      const { d, c: first } = await criDaemon({ respawn: true, daemonJson: { 'network-plugin': 'cni', 'cni-conf-dir': join(cniDir, 'net.d'), 'cni-bin-dir': '/usr/lib/cni' } });
      let c = first;
      const st0 = await c.runtime.status({});
      expect((st0.status?.conditions ?? []).find((x) => x.type === 'NetworkReady')?.status).toBe(true);
      const sb = podConfig('cni', d.path('pods', 'cni'));
      const { podSandboxId: pod } = await c.runtime.runPodSandbox({ config: sb });
      const ip = (await c.runtime.podSandboxStatus({ podSandboxId: pod })).status!.network?.ip ?? '';
      expect(ip).toMatch(/^10\.231\.7\.\d+$/);
      const app = await c.runtime.createContainer({ podSandboxId: pod, config: containerConfig('app', ['sleep 1000']), sandboxConfig: sb });
      await c.runtime.startContainer({ containerId: app.containerId });
      const addr = text((await c.runtime.execSync({ containerId: app.containerId, cmd: ['ip', '-4', 'addr', 'show', 'eth0'], timeout: 10n })).stdout);
      expect(addr).toContain(`inet ${ip}/24`);
      // Reachable from the daemon's namespace (the "node"), never from the host's.
      const ping = await run('nsenter', ['-t', String(d.pid()), '-n', '/bin/busybox', 'ping', '-c', '1', '-W', '2', ip]);
      expect(ping.code, ping.stdout + ping.stderr).toBe(0);
      expect(readdirSync(join(cniDir, 'ipam', 'e2e-net'))).toContain(ip);
      // kill -9 of the daemon: the pod keeps its IP, and the teardown works from the cached result.
      const before = d.pid();
      d.signal('SIGKILL');
      await waitFor('the daemon back', async () => (d.pid() !== undefined && d.pid() !== before && (await d.isula(['version'])).code === 0 ? true : undefined), 30_000, 100);
      c = criClient(d.sock);
      clients.push(c);
      expect((await c.runtime.podSandboxStatus({ podSandboxId: pod })).status!.network?.ip).toBe(ip);
      await c.runtime.stopPodSandbox({ podSandboxId: pod });
      expect(readdirSync(join(cniDir, 'ipam', 'e2e-net'))).not.toContain(ip);
      await c.runtime.removePodSandbox({ podSandboxId: pod });
    } finally {
      await run('rm', ['-rf', cniDir]);
    }
  }, 120_000);

  it('PullImage through CRI with registry credentials (TLS + htpasswd); without them it is refused', async () => {
    const { d, c } = await criDaemon();
    const { oci } = await busyboxImage();
    const reg = await startRegistry(d, { port: 5443, tls: true, user: 'kube', password: 'cri-s3cret' });
    registries.push(reg);
    const push = await reg.skopeo(['copy', '--dest-tls-verify=false', '{creds}', `oci:${oci}:latest`, `docker://${reg.host}/team/app:1`]);
    expect(push.code, push.stderr).toBe(0);
    mkdirSync(d.path('etc-isulad', 'certs.d', reg.host), { recursive: true });
    copyFileSync(`${reg.dir}/ca.crt`, d.path('etc-isulad', 'certs.d', reg.host, 'ca.crt'));
    const image = `${reg.host}/team/app:1`;
    const anon = await c.images.pullImage({ image: { image } }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(anon?.message).toMatch(/unauthorized|authentication/i);
    const pulled = await c.images.pullImage({ image: { image }, auth: { username: 'kube', password: 'cri-s3cret' } });
    expect(pulled.imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await c.images.imageStatus({ image: { image } })).image?.id).toBe(pulled.imageRef);
    // The credentials were for that pull only, and appear in no log.
    expect(existsSync(d.path('graph', 'auths', 'auths.json')) ? readFileSync(d.path('graph', 'auths', 'auths.json'), 'utf8') : '').not.toContain(reg.host);
    expect(d.stdout + d.stderr + (existsSync(d.path('graph', 'isulad.log')) ? readFileSync(d.path('graph', 'isulad.log'), 'utf8') : '')).not.toContain('cri-s3cret');
  }, 120_000);

  it('a daemon restart keeps pods and containers, running, and their state', async () => {
    const { d, c } = await criDaemon({ respawn: true });
    const logDir = d.path('pods', 'keep');
    const { podSandboxId: pod } = await c.runtime.runPodSandbox({ config: podConfig('keep', logDir) });
    const { containerId } = await c.runtime.createContainer({ podSandboxId: pod, config: containerConfig('app', ['sleep 1000']), sandboxConfig: podConfig('keep', logDir) });
    await c.runtime.startContainer({ containerId });

    const before = d.pid();
    d.signal('SIGKILL');
    await waitFor('the daemon back', async () => (d.pid() !== undefined && d.pid() !== before && (await d.isula(['version'])).code === 0 ? true : undefined), 30_000, 100);
    await sleep(200);
    const c2 = criClient(d.sock);
    clients.push(c2);
    expect((await c2.runtime.podSandboxStatus({ podSandboxId: pod })).status!.state).toBe(cri.PodSandboxState.SANDBOX_READY);
    expect((await c2.runtime.containerStatus({ containerId })).status!.state).toBe(cri.ContainerState.CONTAINER_RUNNING);
    expect(text((await c2.runtime.execSync({ containerId, cmd: ['hostname'], timeout: 10n })).stdout).trim()).toBe('keep-host');
    await c2.runtime.stopPodSandbox({ podSandboxId: pod });
    await c2.runtime.removePodSandbox({ podSandboxId: pod });
  }, 120_000);
});
