import { methodPath } from '@isula/protocol';
import * as c from '@isula/protocol/containers';
import { checkInBand, type IsulaClient } from './client';

/*
 * `containers.ContainerService` Exec and Resize as plain SDK functions (unix socket hosts): Exec is
 * unary and answers once the process has exited (with its exit code), or at once for a detached
 * exec; the process's stdio travels through the FIFOs named in the request (see stdio/fifos.ts,
 * kind `exec`). Resize with `suffix` = the exec id sizes that exec's pty ('' = the container's).
 */

const SERVICE = 'containers.ContainerService';

export type ExecRequest = c.ExecRequest;

export interface ExecResult {
  pid: number;
  exitCode: number;
}

interface Codec<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
  fromPartial(o: any): T;
}

function unary<Req, Res>(name: string, request: Codec<Req>, response: Codec<Res>) {
  return {
    path: methodPath(SERVICE, name),
    requestStream: false as const,
    responseStream: false as const,
    encode: (m: Req) => request.encode(m).finish(),
    decode: (b: Uint8Array) => response.decode(b),
    createRequest: (p?: unknown) => request.fromPartial(p ?? {}),
  };
}

const EXEC = unary('Exec', c.ExecRequest, c.ExecResponse);
const RESIZE = unary('Resize', c.ResizeRequest, c.ResizeResponse);

async function invoke<Req, Res>(client: IsulaClient, method: ReturnType<typeof unary<Req, Res>>, request: Partial<Req>): Promise<Res> {
  const call = client.call as unknown as (m: typeof method, r: Partial<Req>) => Promise<Res>;
  return checkInBand(await call.call(client, method, request));
}

/** Runs a process in a running container; rejects with DaemonError on an in-band failure. */
export async function execInContainer(client: IsulaClient, req: Partial<ExecRequest>): Promise<ExecResult> {
  const res = await invoke(client, EXEC, c.ExecRequest.fromPartial(req));
  return { pid: res.pid, exitCode: res.exitCode };
}

/** Sets the pty size of container `id` (suffix '') or of its exec `suffix`. */
export async function resizeTty(client: IsulaClient, id: string, suffix: string, height: number, width: number): Promise<void> {
  await invoke(client, RESIZE, { id, suffix, height, width });
}
