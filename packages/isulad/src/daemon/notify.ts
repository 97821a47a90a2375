import { native } from '../os/native';

/** Tells systemd the daemon is ready when it runs us as a Type=notify unit. */
export function notifyReady(env: NodeJS.ProcessEnv = process.env): boolean {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return false;
  native().notify(socket, `READY=1\nMAINPID=${process.pid}`);
  return true;
}

export function notifyStopping(env: NodeJS.ProcessEnv = process.env): void {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return;
  try {
    native().notify(socket, 'STOPPING=1');
  } catch {
    /* systemd gone: nothing to tell */
  }
}
