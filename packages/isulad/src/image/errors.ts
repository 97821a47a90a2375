import { ErrorCode } from '@isula/protocol';

/** An image operation that failed for a reason the user should read; `cc` travels in-band. */
export class ImageError extends Error {
  constructor(
    message: string,
    readonly cc: ErrorCode = ErrorCode.EXEC,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}

export const noSuchImage = (name: string) => new ImageError(`No such image:${name}`);
