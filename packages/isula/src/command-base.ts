import { Command, Option } from 'clipanion';
import { parseArgs, renderHelp, type CommandSpec, type ParsedArgs } from '@isula/argv';
import { IsulaClient } from '@isula/client';
import { describeFailure, UsageError } from './render/errors';

export type OptionValues = ParsedArgs['values'];

/** What a command's `run` gets: its parsed options, its positionals and a lazily opened client. */
export interface CommandContext {
  options: OptionValues;
  args: string[];
  client(): IsulaClient;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const str = (v: OptionValues[string] | undefined) => (typeof v === 'string' ? v : undefined);
const bool = (v: OptionValues[string] | undefined) => (typeof v === 'boolean' ? v : undefined);

/** The client the common options (-H, --tls*) describe, with ISULAD_* variables filling the gaps. */
export function clientFromOptions(options: OptionValues): IsulaClient {
  return new IsulaClient({
    host: str(options.host),
    tls: bool(options.tls),
    tlsVerify: bool(options.tlsverify),
    tlsCaCert: str(options.tlscacert),
    tlsCert: str(options.tlscert),
    tlsKey: str(options.tlskey),
  });
}

/**
 * Base of every `isula` command. clipanion routes the command and hands over the raw tokens; the
 * iSula grammar (short clusters, `=` values, exit 125) is applied here by @isula/argv with the
 * command's option table, so every command parses exactly like upstream's.
 */
export abstract class IsulaCommand extends Command {
  static spec: CommandSpec;

  rest = Option.Proxy();

  protected abstract run(ctx: CommandContext): Promise<number | void>;

  /** Checks the number of positionals; upstream's wording differs per command, so callers give it. */
  protected requireArgs(ctx: CommandContext, check: (n: number) => boolean, message: string): void {
    if (!check(ctx.args.length)) throw new UsageError(message);
  }

  async execute(): Promise<number> {
    const spec = (this.constructor as typeof IsulaCommand).spec;
    let client: IsulaClient | undefined;
    try {
      const parsed = parseArgs(this.rest, spec.options);
      if (parsed.help) {
        this.context.stdout.write(renderHelp(spec));
        return 0;
      }
      const ctx: CommandContext = {
        options: parsed.values,
        args: parsed.positionals,
        client: () => (client ??= clientFromOptions(parsed.values)),
        stdout: this.context.stdout,
        stderr: this.context.stderr,
      };
      return (await this.run(ctx)) ?? 0;
    } catch (err) {
      const { message, exitCode } = describeFailure(err);
      this.context.stderr.write(`${message}\n`);
      return exitCode;
    } finally {
      client?.close();
    }
  }
}
