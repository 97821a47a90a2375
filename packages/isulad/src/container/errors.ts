import { ErrorCode } from '@isula/protocol';

/** A container operation refused or failed; the message is what `Error response from daemon:` shows. */
export class ContainerError extends Error {
  constructor(
    message: string,
    readonly cc: ErrorCode = ErrorCode.EXEC,
  ) {
    super(message);
    this.name = 'ContainerError';
  }
}
