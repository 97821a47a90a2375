/**
 * CRI containers: Create/Start/Stop/Remove, ContainerStatus, ListContainers,
 * UpdateContainerResources, ReopenContainerLog and ExecSync, on the container domain.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { cri, DeepPartial } from '@isula/cri-api';
import { execInContainer } from '../container/exec';
import type { StdioStream } from '../container/stdio';
import { reopenLog } from '../runtime/monitor';
import { isRunning, type CriDeps, type CriIndex } from './context';
import { deadlineExceeded, failedPrecondition, invalidArgument, messageOf, notFound } from './errors';
import { containerMeta, sandboxMeta } from './labels';
import { oomScoreAdjFloor } from './oom';
import { containerItem, containerMatches, containerStatus } from './status';
import { containerCreateSpec, criLogConfig, resourcesToHostConfig } from './translate';

/** Output ExecSync keeps per stream; beyond it the output is read and dropped (kubelet's own cap is far lower). */
export const EXEC_SYNC_OUTPUT_CAP = 16 * 1024 * 1024;

/** Collects a stream's output up to `cap` bytes (copies: the bridge hands out views of its reads). */
export class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly cap: number) {}

  push(data: Buffer): void {
    const room = this.cap - this.size;
    if (room <= 0) {
      if (data.length > 0) this.truncated = true;
      return;
    }
    const part = data.length > room ? data.subarray(0, room) : data;
    if (part.length < data.length) this.truncated = true;
    this.chunks.push(Buffer.from(part));
    this.size += part.length;
  }

  value(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

/** The process and every descendant of it, from /proc (children lists), parents first. */
export async function processTree(pid: number): Promise<number[]> {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    const text = await readFile(`/proc/${p}/task/${p}/children`, 'utf8').catch(() => '');
    for (const c of text.trim().split(/\s+/)) if (/^\d+$/.test(c)) queue.push(Number(c));
  }
  return out;
}

/** SIGKILLs an exec's process and its descendants (which may hold the output pipes open). */
async function killExec(execDir: string): Promise<boolean> {
  const pid = Number((await readFile(join(execDir, 'pid'), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return false;
  for (const p of await processTree(pid)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return true;
}

export class CriContainers {
  constructor(
    private readonly d: CriDeps,
    private readonly index: CriIndex,
  ) {}

  async create(req: cri.CreateContainerRequest): Promise<string> {
    const { box } = this.d;
    if (!req.config) throw invalidArgument('CreateContainer: config is required');
    const sb = this.index.mustSandbox(req.podSandboxId);
    const sbMeta = sandboxMeta(sb);
    if (!isRunning(sb)) throw failedPrecondition(`pod sandbox ${sb.id} is not ready: its containers cannot join its namespaces`);
    const logPath = sbMeta.logDirectory !== '' && req.config.logPath !== '' ? join(sbMeta.logDirectory, req.config.logPath) : '';
    const spec = containerCreateSpec(req.config, { id: sb.id, meta: sbMeta }, { logPath, oomScoreAdjFloor: await oomScoreAdjFloor() });
    try {
      this.d.images.usable(spec.image);
    } catch (err) {
      throw notFound(`image ${JSON.stringify(spec.image)} not found: ${messageOf(err)}`);
    }
    if (logPath !== '') await mkdir(dirname(logPath), { recursive: true, mode: 0o755 });
    const rec = await box.create({
      name: spec.name,
      image: spec.image,
      runtime: sb.runtime,
      hostConfig: spec.hostConfig,
      config: spec.config,
      log: criLogConfig(logPath),
      // hostname, hosts and resolv.conf are the pod's: those written into the pause container's bundle.
      etcDir: sb.bundle,
    });
    return rec.id;
  }

  async start(ref: string): Promise<void> {
    const rec = this.index.mustContainer(ref);
    if (rec.state.status !== 'inited') throw failedPrecondition(`container ${rec.id} is not in the created state (${rec.state.status}): CRI containers start once`);
    await this.d.box.start(rec.id);
  }

  async stop(ref: string, timeout: bigint): Promise<void> {
    const rec = this.index.mustContainer(ref);
    const seconds = timeout < 0n ? 0 : Number(timeout > 86_400n ? 86_400n : timeout);
    await this.d.box.stop(rec.id, seconds, false);
  }

  /** Missing = done (RemoveContainer is idempotent). */
  async remove(ref: string): Promise<void> {
    const rec = this.index.container(ref);
    if (!rec) return;
    await this.d.box.remove(rec.id, true, true);
  }

  status(ref: string, verbose: boolean): DeepPartial<cri.ContainerStatusResponse> {
    const rec = this.index.mustContainer(ref);
    const meta = containerMeta(rec);
    const info: Record<string, string> = {};
    if (verbose) {
      info.info = JSON.stringify({
        pid: rec.state.pid,
        sandboxID: meta.sandboxId,
        name: rec.name,
        runtime: rec.runtime,
        image: rec.image,
        imageId: rec.imageId,
        bundle: rec.bundle,
        cgroupPath: rec.cgroupPath,
        hostConfig: rec.hostConfig,
        path: rec.path,
        args: rec.args,
      });
    }
    return { status: containerStatus(rec, meta), info };
  }

  list(filter: cri.ContainerFilter | undefined): DeepPartial<cri.Container>[] {
    const out: DeepPartial<cri.Container>[] = [];
    for (const rec of this.index.containers()) {
      const meta = containerMeta(rec);
      if (containerMatches(rec, meta, filter)) out.push(containerItem(rec, meta));
    }
    return out;
  }

  async updateResources(req: cri.UpdateContainerResourcesRequest): Promise<void> {
    const rec = this.index.mustContainer(req.containerId);
    const patch = resourcesToHostConfig(req.linux);
    if (Object.keys(patch).length === 0) return;
    await this.d.box.update(rec.id, patch);
  }

  /** kubelet renamed the log file (rotation): the monitor opens `log_path` anew. */
  async reopenLog(ref: string): Promise<void> {
    const rec = this.index.mustContainer(ref);
    if (!isRunning(rec)) throw failedPrecondition(`container ${rec.id} is not running`);
    if (containerMeta(rec).logPath === '') return;
    await reopenLog(this.d.box.stateDir(rec));
  }

  /**
   * Runs `cmd` in the container and collects its output (capped per stream). A timeout (seconds,
   * 0 = none) kills the process and its descendants and answers DEADLINE_EXCEEDED, which kubelet
   * reads as a probe timeout.
   */
  async execSync(req: cri.ExecSyncRequest): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    const rec = this.index.mustContainer(req.containerId);
    if (req.cmd.length === 0) throw invalidArgument('ExecSync: cmd is required');
    if (!isRunning(rec)) throw failedPrecondition(`container ${rec.id} is not running`);
    const suffix = randomBytes(16).toString('hex');
    const execDir = join(this.d.box.stateDir(rec), 'exec', suffix);
    const stdout = new CappedBuffer(EXEC_SYNC_OUTPUT_CAP);
    const stderr = new CappedBuffer(EXEC_SYNC_OUTPUT_CAP);
    const stream: StdioStream = {
      input: (async function* () {})(),
      send: (kind, data) => {
        (kind === 'stdout' ? stdout : stderr).push(data);
        return Promise.resolve();
      },
      gone: new Promise<void>(() => undefined),
    };
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const seconds = Number(req.timeout);
    if (seconds > 0) {
      const kill = async () => {
        timedOut = true;
        // The process may still be starting: try until its pid file is there.
        for (let i = 0; i < 100 && !(await killExec(execDir)); i++) await new Promise((r) => setTimeout(r, 100));
      };
      timer = setTimeout(() => void kill(), seconds * 1000);
    }
    try {
      const r = await execInContainer(this.d.box, rec.id, {
        suffix,
        argv: [...req.cmd],
        env: [],
        user: '',
        workdir: '',
        tty: false,
        attachStdin: false,
        fifos: {},
        stream,
        detach: false,
      });
      if (timedOut) throw deadlineExceeded(`command ${JSON.stringify(req.cmd)} timed out after ${seconds}s`);
      return { stdout: stdout.value(), stderr: stderr.value(), exitCode: r.exitCode };
    } finally {
      clearTimeout(timer);
    }
  }
}
