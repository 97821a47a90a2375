import { UsageError } from '../render/errors';

/** Test helper: run `fn`, require a UsageError with exit code 125, return its message. */
export function usageErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof UsageError)) throw new Error(`expected a UsageError, got ${String(e)}`);
    if (e.exitCode !== 125) throw new Error(`expected exit code 125, got ${e.exitCode}`);
    return e.message;
  }
  throw new Error('expected a UsageError');
}
