import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ErrorCode, type ContainerService } from '@isula/protocol';
import type { Containers } from '../../container/containers';
import { ContainerError } from '../../container/errors';
import { execInContainer, rememberSize, resizeTarget } from '../../container/exec';
import { sendResize } from '../../runtime/monitor';
import type { UnaryImpl } from '../grpc-adapter';
import { inBand } from './in-band';

/** containers.ContainerService `Exec` (local FIFOs, unary: the answer carries the exit code) and `Resize`. */
export function containerExec(box: Containers): UnaryImpl<typeof ContainerService> {
  return {
    Exec: (req) =>
      inBand(async () => {
        const detach = !req.attachStdin && !req.attachStdout && !req.attachStderr;
        const fifos = { stdin: req.attachStdin ? req.stdin : '', stdout: req.attachStdout ? req.stdout : '', stderr: req.attachStderr ? req.stderr : '' };
        for (const p of Object.values(fifos)) if (p !== '' && !isAbsolute(p)) throw new ContainerError(`Invalid fifo path ${p}`, ErrorCode.INPUT);
        const r = await execInContainer(box, req.containerId, {
          suffix: req.suffix,
          argv: req.argv,
          env: req.env,
          user: req.user,
          workdir: req.workdir,
          tty: req.tty,
          attachStdin: req.attachStdin,
          fifos: { stdin: fifos.stdin || undefined, stdout: fifos.stdout || undefined, stderr: fifos.stderr || undefined },
          detach,
        });
        return { pid: r.pid, exitCode: r.exitCode, cc: 0, errmsg: '' };
      }),
    Resize: (req) =>
      inBand(async () => {
        const { rec, dir } = resizeTarget(box, req.id, req.suffix);
        if (req.suffix !== '' && !existsSync(join(dir, 'attach.sock'))) {
          // The exec has not started yet: its pty will start with this size.
          rememberSize(rec.id, req.suffix, req.height, req.width);
          return { id: rec.id, cc: 0, errmsg: '' };
        }
        try {
          await sendResize(dir, req.height, req.width);
        } catch (err) {
          throw new ContainerError(`Failed to resize ${req.suffix === '' ? 'container' : 'exec'} ${req.suffix || rec.id}: ${(err as Error).message}`);
        }
        return { id: rec.id, cc: 0, errmsg: '' };
      }),
  };
}
