import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startDaemon, type DaemonOptions, type TestDaemon } from './harness';
import { busyboxImage, cleanupFixtures } from './images-fixtures';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/** Runs `isula` against `d` and expects exit 0 (the failure message shows stderr). */
export async function ok(d: TestDaemon, args: string[], opts: { inNamespaces?: boolean; input?: string } = {}) {
  const r = await d.isula(args, opts);
  expect(r.code, `isula ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

/**
 * What the container suites share: daemons with the project's busybox loaded, whose containers sit
 * under one cgroup parent of the suite's own, removed (with whatever runc left) when the suite ends.
 */
export function containerSuite(tag: string) {
  const cgroupParent = `/isula-e2e-${tag}-${process.pid}`;
  const daemons: TestDaemon[] = [];
  return {
    cgroupParent,
    async daemonWithBusybox(opts: DaemonOptions = {}): Promise<TestDaemon> {
      const { tar } = await busyboxImage();
      const d = await startDaemon({ ...opts, args: ['--cgroup-parent', cgroupParent, ...(opts.args ?? [])] });
      daemons.push(d);
      await ok(d, ['load', '-i', tar]);
      return d;
    },
    async stopDaemons(): Promise<void> {
      await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
    },
    /** When the suite ends: the cgroup parent and the fixture files (busybox image) go. */
    finish(): void {
      this.removeCgroupParent();
      cleanupFixtures();
    },
    removeCgroupParent(): void {
      for (const ctrl of existsSync(CGROUP_ROOT) ? readdirSync(CGROUP_ROOT) : []) {
        const dir = join(CGROUP_ROOT, ctrl, cgroupParent);
        if (!existsSync(dir)) continue;
        for (const sub of readdirSync(dir, { withFileTypes: true })) if (sub.isDirectory()) rmdirSync(join(dir, sub.name));
        rmdirSync(dir);
      }
    },
  };
}
