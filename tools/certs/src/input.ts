// Line input for the prompts: the scripts' `read`, from a terminal or a pipe. On a terminal the
// passphrase is read in raw mode, without echo.
import { StringDecoder } from 'node:string_decoder';

export interface InputStream extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

/** Ctrl-C while reading the passphrase in raw mode (the terminal does not send SIGINT then). */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

export class LineInput {
  private buf = '';
  private ended = false;
  private attached = false;
  private wake: (() => void) | null = null;
  private readonly decoder = new StringDecoder('utf8');
  private readonly onData = (d: string | Buffer) => {
    this.buf += typeof d === 'string' ? d : this.decoder.write(d);
    this.wake?.();
  };
  private readonly onEnd = () => {
    this.buf += this.decoder.end();
    this.ended = true;
    this.wake?.();
  };

  constructor(private readonly stream: InputStream) {}

  get isTTY(): boolean {
    return this.stream.isTTY === true && typeof this.stream.setRawMode === 'function';
  }

  private attach(): void {
    if (this.attached) return;
    this.attached = true;
    this.stream.on('data', this.onData);
    this.stream.on('end', this.onEnd);
    this.stream.on('error', this.onEnd);
    this.stream.resume();
  }

  /** Waits for more data; false at end of input. */
  private async more(): Promise<boolean> {
    if (this.ended) return false;
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = null;
    return true;
  }

  /** The next line without its line end, or null at end of input. */
  async readLine(): Promise<string | null> {
    this.attach();
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        return line.replace(/\r$/, '');
      }
      if (this.ended) {
        if (this.buf === '') return null;
        const line = this.buf;
        this.buf = '';
        return line.replace(/\r$/, '');
      }
      await this.more();
    }
  }

  /**
   * A line read without echo when the input is a terminal (raw mode: Enter ends it, Backspace
   * erases, Ctrl-U clears, Ctrl-C interrupts, Ctrl-D on an empty line is end of input); from a pipe,
   * just the next line.
   */
  async readSecret(): Promise<string | null> {
    if (!this.isTTY) return this.readLine();
    this.attach();
    this.stream.setRawMode!(true);
    try {
      let secret = '';
      for (;;) {
        while (this.buf.length > 0) {
          const cp = this.buf.codePointAt(0)!;
          const ch = String.fromCodePoint(cp);
          this.buf = this.buf.slice(ch.length);
          if (ch === '\r' || ch === '\n') {
            if (ch === '\r' && this.buf.startsWith('\n')) this.buf = this.buf.slice(1);
            return secret;
          }
          if (ch === '\u0003') throw new InterruptedError('interrupted');
          if (ch === '\u0004') {
            if (secret === '') return null;
            continue;
          }
          if (ch === '\u007f' || ch === '\b') {
            secret = [...secret].slice(0, -1).join('');
            continue;
          }
          if (ch === '\u0015') {
            secret = '';
            continue;
          }
          if (ch === '\u001b') {
            // An escape sequence (arrow keys...): drop it.
            const m = /^\[[0-9;?]*[ -/]*[@-~]|^O./.exec(this.buf);
            if (m) this.buf = this.buf.slice(m[0].length);
            continue;
          }
          if (cp < 0x20) continue;
          secret += ch;
        }
        if (!(await this.more())) return secret === '' ? null : secret;
      }
    } finally {
      this.stream.setRawMode!(false);
    }
  }

  /** Stops reading, so the process can exit. */
  close(): void {
    if (!this.attached) return;
    this.stream.removeListener('data', this.onData);
    this.stream.removeListener('end', this.onEnd);
    this.stream.removeListener('error', this.onEnd);
    this.stream.pause();
    this.attached = false;
  }
}
