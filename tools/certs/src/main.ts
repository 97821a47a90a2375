// The `isula-certs` command: flags, or the spec scripts' prompts for what the flags leave out.
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  CertsError,
  checkRecipeOptions,
  DEFAULT_DAYS,
  ENCRYPTED_RECIPE_HOST,
  FILES,
  generateRecipe,
  LOOPBACK_IP,
  RECIPES,
  type Recipe,
} from './certs.js';
import { prepareDir, writeBundle } from './files.js';
import { InterruptedError, LineInput, type InputStream } from './input.js';

export const USAGE = `Usage: isula-certs [plain|encrypted] [options]

Generates the TLS files for isulad remote access, following the two recipes of the
spec ("配置TLS认证与开启远程访问"):
  plain      (default) 4096-bit RSA keys; ca-key.pem encrypted with the passphrase,
             server-key.pem and key.pem not encrypted; server CN and DNS name = --host.
             Default directory: $HOME/.iSulad
  encrypted  2048-bit RSA keys, server-key.pem and key.pem encrypted (AES-256) with the
             passphrase; server CN and DNS name "iSulad"; ca-key.pem is deleted unless
             --keep-ca-key. Default directory: the current directory

Options:
  --dir DIR               write the files into DIR (created, mode 0700, if missing)
  --ip IP                 a public network IP of the server (IPv4 or IPv6); repeat it or
                          separate IPs with commas. 127.0.0.1 is always added
  --host NAME             the server's host name (CN and DNS SAN; an IP becomes an IP SAN)
  --days N                validity of the certificates in days (default ${DEFAULT_DAYS})
  --passphrase-file FILE  read the passphrase from the first line of FILE
  --passphrase-stdin      read the passphrase from the first line of standard input
  --keep-ca-key           encrypted recipe: keep ca-key.pem (encrypted) to sign more later
  -h, --help              print this help

Without --ip, --host (plain) or a passphrase option, the values are asked as the spec's
scripts do: "Enter pass phrase:", "Enter public network ip:", "Enter host:", from the
terminal (the passphrase without echo) or one line each from standard input.

Files: ca-key.pem ca.pem server-key.pem server-cert.pem key.pem cert.pem
(keys mode 0400, certificates mode 0444; files with these names are replaced,
other files are left alone).
`;

export interface Io {
  stdin: InputStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Internal knobs for the tests; not reachable from the command line. */
export interface Internal {
  keyBits?: number;
}

const PROMPT_PASS = 'Enter pass phrase:';
const PROMPT_IP = 'Enter public network ip:';
const PROMPT_HOST = 'Enter host:';

const OPTIONS = {
  dir: { type: 'string' },
  ip: { type: 'string', multiple: true },
  host: { type: 'string' },
  days: { type: 'string' },
  'passphrase-file': { type: 'string' },
  'passphrase-stdin': { type: 'boolean' },
  'keep-ca-key': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function fail(msg: string): never {
  throw new CertsError(msg);
}

function parse(argv: string[]) {
  for (const a of argv) {
    if (a === '--') break;
    // A passphrase on the command line would end up in shell history and `ps`: refuse it
    // (without repeating it).
    if (/^--?(passphrase|password|pass|passin|passout)(=|$)/.test(a)) {
      fail('the passphrase cannot be given on the command line; use --passphrase-file FILE or --passphrase-stdin');
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const name = /'(-[^'=\s]*)/.exec(err.message)?.[1] ?? 'option';
      fail(`unknown option ${name} (see --help)`);
    }
    fail(`${err.message.replace(/^Option/, 'option')} (see --help)`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) fail('too many arguments: expected at most one recipe, plain or encrypted (see --help)');
  const recipe = (positionals[0] ?? 'plain') as Recipe;
  if (!RECIPES.includes(recipe)) fail('the recipe must be plain or encrypted (see --help)');
  return { values, recipe };
}

function parseDays(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > 36500) {
    fail(`invalid --days '${text}': expected a whole number of days from 1 to 36500`);
  }
  return Number(text);
}

function splitIps(texts: readonly string[]): string[] {
  return texts.flatMap((t) => t.split(/[,\s]+/)).filter((t) => t !== '');
}

function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  return (nl >= 0 ? text.slice(0, nl) : text).replace(/\r$/, '');
}

async function readPassphraseFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    fail(`cannot read the passphrase file ${file} (${code})`);
  }
  const pass = firstLine(text);
  if (pass === '') fail(`empty passphrase in ${file}`);
  return pass;
}

function mode(m: number): string {
  return '0' + m.toString(8);
}

/** Runs the command; returns the exit code (0, 1 on errors, 130 on Ctrl-C). Never throws. */
export async function main(argv: string[], io: Io, internal: Internal = {}): Promise<number> {
  const out = (s: string) => io.stdout.write(s);
  const input = new LineInput(io.stdin);
  try {
    const { values, recipe } = parse(argv);
    if (values.help) {
      out(USAGE);
      return 0;
    }
    const days = parseDays(values.days);
    const flagIps = splitIps(values.ip ?? []);
    if (values.ip !== undefined && flagIps.length === 0) fail('empty --ip');
    let host = values.host ?? (recipe === 'encrypted' ? ENCRYPTED_RECIPE_HOST : undefined);
    if (values['passphrase-file'] !== undefined && values['passphrase-stdin']) {
      fail('--passphrase-file and --passphrase-stdin cannot be used together');
    }
    // Check what was given before anything is asked or generated.
    if (flagIps.length > 0 || host !== undefined) {
      checkRecipeOptions({ recipe, passphrase: 'x', ips: flagIps.length > 0 ? flagIps : [LOOPBACK_IP], host: host ?? 'localhost', days });
    }
    if (values['passphrase-stdin'] && (flagIps.length === 0 || host === undefined)) {
      fail(`--passphrase-stdin needs --ip${recipe === 'plain' ? ' and --host' : ''}: standard input only carries the passphrase`);
    }
    const home = io.env['HOME'] || homedir();
    const dir = path.resolve(io.cwd, values.dir ?? (recipe === 'plain' ? path.join(home, '.iSulad') : '.'));
    const absDir = await prepareDir(dir);

    let passphrase: string | undefined;
    if (values['passphrase-file'] !== undefined) passphrase = await readPassphraseFile(path.resolve(io.cwd, values['passphrase-file']));
    if (values['passphrase-stdin']) {
      const line = await input.readLine();
      if (line === null || line === '') fail('empty passphrase on standard input');
      passphrase = line;
    }

    // The scripts' prompts, in their order, for the values still missing.
    const ask = async (prompt: string, secret: boolean): Promise<string> => {
      out(prompt);
      const answer = secret ? await input.readSecret() : await input.readLine();
      if (secret || !input.isTTY) out('\n'); // no echo of the answer: end the prompt line
      if (answer === null) fail(`no answer to "${prompt}" (end of input)`);
      return answer;
    };
    const askPass = async () => {
      if (passphrase !== undefined) return;
      passphrase = await ask(PROMPT_PASS, true);
      if (passphrase === '') fail('empty passphrase');
    };
    const askIp = async () => {
      if (flagIps.length > 0) return;
      const ips = splitIps([await ask(PROMPT_IP, false)]);
      if (ips.length === 0) fail('no public network ip given');
      flagIps.push(...ips);
    };
    if (recipe === 'plain') {
      await askPass();
      await askIp();
      if (host === undefined) host = (await ask(PROMPT_HOST, false)).trim();
    } else {
      await askIp();
      await askPass();
    }
    input.close();

    const options = { recipe, passphrase: passphrase!, ips: flagIps, host, days };
    const checked = checkRecipeOptions(options);
    const publicIps = checked.ips.filter((ip) => ip !== LOOPBACK_IP);
    if (recipe === 'plain') {
      out(` => Using hostname: ${(publicIps.length > 0 ? publicIps : checked.ips).join(',')}, You MUST connect to iSulad using this host!\n`);
    }
    const bundle = await generateRecipe({ ...options, keepCaKey: values['keep-ca-key'] === true, keyBits: internal.keyBits, onStep: (s) => out(` => ${s}\n`) });
    await writeBundle(absDir, bundle);
    out(` => Wrote into ${absDir}:\n`);
    for (const f of bundle.files) out(`    ${mode(f.mode)} ${f.name}\n`);
    if (bundle.obsolete.includes(FILES.caKey)) {
      out(` => ${FILES.caKey} not kept, as in the spec's recipe (--keep-ca-key keeps it)\n`);
    }
    if (recipe === 'encrypted') {
      out(` => ${FILES.serverKey} and ${FILES.clientKey} are encrypted with the passphrase\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof InterruptedError) {
      io.stderr.write('\nisula-certs: interrupted\n');
      return 130;
    }
    // Only our own messages are printed: they never contain the passphrase or key material.
    const msg = e instanceof CertsError ? e.message : `internal error (${e instanceof Error ? e.name : typeof e})`;
    io.stderr.write(`isula-certs: ${msg}\n`);
    return 1;
  } finally {
    input.close();
  }
}
