import { UsageError } from '../render/errors';

/** Exit status upstream uses for invalid arguments (EINVALIDARGS). */
export const EXIT_INVALID_ARGS = 125;

/** Throw the {@link UsageError} (exit 125) every create/run option check uses. */
export function invalidArg(message: string): never {
  throw new UsageError(message, EXIT_INVALID_ARGS);
}

/** `Invalid value "<v>" for flag --<flag>` (upstream's numeric/size callbacks). */
export function invalidValue(flag: string, value: string, suffix = ''): never {
  return invalidArg(`Invalid value "${value}" for flag --${flag}${suffix}`);
}
