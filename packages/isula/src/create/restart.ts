import type { RestartPolicy } from '@isula/protocol';
import { invalidArg } from './errors';
import { safeInt32 } from './numbers';

/** Policies the daemon accepts (`unless-stopped` is accepted upstream although not in the help text). */
export const RESTART_POLICIES = ['no', 'always', 'on-reboot', 'on-failure', 'unless-stopped'] as const;

/**
 * Parse `--restart name[:N]` (client side, upstream `parse_restart_policy`):
 * `Invalid restart policy format`, `Maximum retry count must be an integer: <strerror>`.
 */
export function parseRestartPolicy(text: string): RestartPolicy {
  const colon = text.indexOf(':');
  if (colon < 0) return { Name: text };
  const count = text.slice(colon + 1);
  if (count.includes(':')) return invalidArg('Invalid restart policy format');
  const n = safeInt32(count);
  if (!n.ok) return invalidArg(`Maximum retry count must be an integer: ${n.error}`);
  return { Name: text.slice(0, colon), MaximumRetryCount: Number(n.value) };
}

/**
 * The daemon's policy checks (`verify_restart_policy_name`), returning the upstream message or
 * undefined when valid. The client runs them too so that bad values fail before any RPC.
 */
export function restartPolicyError(rp: RestartPolicy, autoRemove: boolean): string | undefined {
  const name = rp.Name ?? '';
  const count = rp.MaximumRetryCount ?? 0;
  if (name === '') {
    return count !== 0 ? 'Maximum retry count cannot be used with empty restart policy' : undefined;
  }
  if (name === 'always' || name === 'no' || name === 'on-reboot' || name === 'unless-stopped') {
    if (count !== 0) return `Maximum retry count cannot be used with restart policy '${name}'`;
  } else if (name === 'on-failure') {
    if (count < 0) return 'Maximum retry count cannot be negative';
  } else {
    return `Invalid restart policy '${name}'`;
  }
  if (autoRemove && name !== 'no') return "Can't create 'AutoRemove' container with restart policy";
  return undefined;
}

/** Parse and verify; throws a UsageError (exit 125) with the upstream text. */
export function buildRestartPolicy(text: string | undefined, autoRemove: boolean): RestartPolicy {
  const rp = parseRestartPolicy(text ?? 'no');
  const err = restartPolicyError(rp, autoRemove);
  if (err !== undefined) return invalidArg(err);
  return rp;
}
