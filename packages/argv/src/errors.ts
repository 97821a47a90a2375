/** Exit status upstream uses for invalid command line arguments (EINVALIDARGS). */
export const EXIT_INVALID_ARGS = 125;

/** Raised for every command-line parse failure; `message` is the exact upstream error text. */
export class ArgvError extends Error {
  readonly exitCode: number = EXIT_INVALID_ARGS;

  constructor(message: string) {
    super(message);
    this.name = 'ArgvError';
  }
}
