import { findIsulaCommand } from '@isula/argv';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

/** Reads one line from the terminal; with `hidden`, nothing is echoed (the password prompt). */
async function prompt(question: string, hidden: boolean): Promise<string> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  return new Promise((resolve) => {
    process.stderr.write(question);
    rl.question('', (answer) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

export default class LoginCommand extends IsulaCommand {
  static override paths = [['login']];
  static override spec = findIsulaCommand('login')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 1, `login requires 1 argument.`);
    const server = ctx.args[0]!;
    let username = typeof ctx.options.username === 'string' ? ctx.options.username : undefined;
    let password = typeof ctx.options.password === 'string' ? ctx.options.password : undefined;
    if (ctx.options['password-stdin'] === true) {
      if (password !== undefined) throw new UsageError('--password and --password-stdin are mutually exclusive');
      if (username === undefined) throw new UsageError('Must provide --username with --password-stdin');
      password = (await readAll(process.stdin)).replace(/\r?\n$/, '');
    }
    if (username === undefined) {
      if (!process.stdin.isTTY) throw new UsageError('Username is required (-u) when stdin is not a terminal');
      username = await prompt('Username: ', false);
    }
    if (password === undefined) {
      if (!process.stdin.isTTY) throw new UsageError('Password is required (-p or --password-stdin) when stdin is not a terminal');
      password = await prompt('Password: ', true);
    }
    await ctx.client().login(server, username, password);
    ctx.stdout.write('Login Succeeded\n');
  }
}
