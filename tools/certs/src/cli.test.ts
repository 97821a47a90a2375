import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InputStream } from './input.js';
import { main, USAGE } from './main.js';
import { openssl, tempDir, x509Text } from './helpers.testlib.js';

const SECRET = 'S3cret-Phrase_xyz';
const SMALL = 1024;
const STEP_LINES = [
  ' => Generating CA key',
  ' => Generating CA certificate',
  ' => Generating server key',
  ' => Generating server CSR',
  ' => Signing server CSR with CA',
  ' => Generating client key',
  ' => Generating client CSR',
  ' => Creating extended key usage',
  ' => Signing client CSR with CA',
];
const KEYS = ['ca-key.pem', 'server-key.pem', 'key.pem'];
const CERTS = ['ca.pem', 'server-cert.pem', 'cert.pem'];

const tmp = tempDir('isula-certs-cli-');
afterAll(() => tmp.cleanup());
let n = 0;
const freshDir = (create = true) => {
  const d = path.join(tmp.dir, `c${n++}`);
  if (create) mkdirSync(d);
  return d;
};
const modeOf = (file: string) => statSync(file).mode & 0o777;
const pems = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.pem')).sort() : []);
const passFile = (text = `${SECRET}\n`) => {
  const f = path.join(freshDir(), 'pass');
  writeFileSync(f, text);
  return f;
};

function sink(): { stream: Writable; text: () => string } {
  let s = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      s += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => s };
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], o: { input?: string; stdin?: InputStream; cwd?: string; home?: string } = {}): Promise<Result> {
  const out = sink();
  const err = sink();
  const stdin = o.stdin ?? Readable.from(o.input !== undefined ? [Buffer.from(o.input)] : []);
  const code = await main(
    argv,
    { stdin, stdout: out.stream, stderr: err.stream, env: { HOME: o.home ?? path.join(tmp.dir, 'no-home') }, cwd: o.cwd ?? tmp.dir },
    { keyBits: SMALL },
  );
  return { code, stdout: out.text(), stderr: err.text() };
}

const decrypts = (file: string, pass: string) => openssl(['rsa', '-in', file, '-passin', `pass:${pass}`, '-noout']).status === 0;

describe('isula-certs (in process)', () => {
  it('--help prints the usage and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(USAGE);
    expect(r.stdout).toMatch(/^Usage: isula-certs \[plain\|encrypted\] \[options\]\n/);
    expect(r.stderr).toBe('');
    expect((await run(['encrypted', '-h'])).stdout).toBe(USAGE);
  });

  it('the README shows the same usage text', () => {
    expect(readFileSync(path.resolve(__dirname, '..', 'README.md'), 'utf8')).toContain(`\n\`\`\`\n${USAGE}\`\`\`\n`);
  });

  it('plain, non-interactive: the script progress lines, the files, no prompt, no secret', async () => {
    const dir = freshDir(false);
    const r = await run(['plain', '--dir', dir, '--ip', '192.168.3.4', '--ip', '10.0.0.1,10.0.0.2', '--host', 'node1', '--passphrase-file', passFile()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        ' => Using hostname: 192.168.3.4,10.0.0.1,10.0.0.2, You MUST connect to iSulad using this host!',
        ...STEP_LINES,
        ` => Wrote into ${dir}:`,
        '    0400 ca-key.pem',
        '    0444 ca.pem',
        '    0400 server-key.pem',
        '    0444 server-cert.pem',
        '    0400 key.pem',
        '    0444 cert.pem',
        '',
      ].join('\n'),
    );
    expect(modeOf(dir)).toBe(0o700);
    expect(pems(dir)).toEqual([...KEYS, ...CERTS].sort());
    expect(x509Text(path.join(dir, 'server-cert.pem'))).toMatch(
      /DNS:node1, IP Address:192\.168\.3\.4, IP Address:10\.0\.0\.1, IP Address:10\.0\.0\.2, IP Address:127\.0\.0\.1\n/,
    );
    expect(decrypts(path.join(dir, 'ca-key.pem'), SECRET)).toBe(true);
    expect(decrypts(path.join(dir, 'ca-key.pem'), 'wrong')).toBe(false);
  });

  it('plain writes into $HOME/.iSulad by default, leaving other files there alone', async () => {
    const home = freshDir();
    mkdirSync(path.join(home, '.iSulad'));
    writeFileSync(path.join(home, '.iSulad', 'keep.txt'), 'mine');
    const r = await run(['--ip', '10.1.1.1', '--host', 'h', '--passphrase-file', passFile()], { home });
    expect(r.code).toBe(0);
    expect(pems(path.join(home, '.iSulad'))).toHaveLength(6);
    expect(readFileSync(path.join(home, '.iSulad', 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('encrypted writes into the current directory by default, without ca-key.pem unless --keep-ca-key', async () => {
    const cwd = freshDir();
    const r = await run(['encrypted', '--ip', '10.1.1.1', '--passphrase-file', passFile()], { cwd });
    expect(r.code).toBe(0);
    expect(pems(cwd)).toEqual(['ca.pem', 'cert.pem', 'key.pem', 'server-cert.pem', 'server-key.pem']);
    expect(r.stdout).toContain(' => ca-key.pem not kept, as in the spec\'s recipe (--keep-ca-key keeps it)\n');
    expect(r.stdout).not.toContain('Using hostname');
    for (const f of ['server-key.pem', 'key.pem']) {
      expect(decrypts(path.join(cwd, f), SECRET), f).toBe(true);
      expect(decrypts(path.join(cwd, f), 'wrong'), f).toBe(false);
    }
    const kept = await run(['encrypted', '--keep-ca-key', '--ip', '10.1.1.1', '--passphrase-file', passFile()], { cwd });
    expect(kept.code).toBe(0);
    expect(pems(cwd)).toContain('ca-key.pem');
    expect(decrypts(path.join(cwd, 'ca-key.pem'), SECRET)).toBe(true);
  });

  it('plain asks the script prompts in order from standard input (one line each)', async () => {
    const dir = freshDir();
    const r = await run(['plain', '--dir', dir], { input: `${SECRET}\n10.20.30.40\nmy-host\n` });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith(
      'Enter pass phrase:\nEnter public network ip:\nEnter host:\n => Using hostname: 10.20.30.40, You MUST connect to iSulad using this host!\n => Generating CA key\n',
    )).toBe(true);
    expect(r.stdout).not.toContain(SECRET);
    expect(x509Text(path.join(dir, 'server-cert.pem'))).toMatch(/Subject: CN = my-host\n[^]*DNS:my-host, IP Address:10\.20\.30\.40, IP Address:127\.0\.0\.1\n/);
    expect(decrypts(path.join(dir, 'ca-key.pem'), SECRET)).toBe(true);
  });

  it('encrypted asks the ip first, then the pass phrase (the script order)', async () => {
    const dir = freshDir();
    const r = await run(['encrypted', '--dir', dir], { input: `10.9.8.7\r\n${SECRET}\r\n` });
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('Enter public network ip:\nEnter pass phrase:\n => Generating CA key\n')).toBe(true);
    expect(decrypts(path.join(dir, 'key.pem'), SECRET)).toBe(true); // CR of CRLF input not part of it
    expect(x509Text(path.join(dir, 'server-cert.pem'))).toMatch(/DNS:iSulad, IP Address:10\.9\.8\.7, IP Address:127\.0\.0\.1\n/);
  });

  it('asks only for what the flags leave out', async () => {
    const dir = freshDir();
    const r = await run(['plain', '--dir', dir, '--ip', '10.0.0.3', '--host', 'h'], { input: `${SECRET}\n10.9.9.9\n` });
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('Enter pass phrase:\n => Using hostname: 10.0.0.3,')).toBe(true);
    expect(r.stdout).not.toMatch(/Enter (public network ip|host):/);
  });

  it('--passphrase-stdin reads the first line of standard input, and needs --ip (and --host for plain)', async () => {
    const dir = freshDir();
    const r = await run(['encrypted', '--dir', dir, '--ip', '10.0.0.3', '--passphrase-stdin'], { input: `${SECRET}\nignored\n` });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('Enter');
    expect(decrypts(path.join(dir, 'server-key.pem'), SECRET)).toBe(true);
    const bad = await run(['plain', '--dir', freshDir(), '--ip', '10.0.0.3', '--passphrase-stdin'], { input: `${SECRET}\n` });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('isula-certs: --passphrase-stdin needs --ip and --host: standard input only carries the passphrase\n');
  });

  describe('errors: exit 1, one clear line, nothing written, never the secret', () => {
    const cases: [string, (dir: string) => string[], RegExp, string?][] = [
      ['invalid IP', (d) => ['plain', '--dir', d, '--ip', '300.1.1.1', '--host', 'h', '--passphrase-file', passFile()], /^invalid IP address '300\.1\.1\.1'$/],
      ['invalid IP answer', (d) => ['plain', '--dir', d], /^invalid IP address 'not-an-ip'$/, `${SECRET}\nnot-an-ip\nh\n`],
      ['empty --ip', (d) => ['plain', '--dir', d, '--ip', '', '--host', 'h', '--passphrase-file', passFile()], /^empty --ip$/],
      ['invalid host', (d) => ['plain', '--dir', d, '--ip', '1.2.3.4', '--host', 'bad_host', '--passphrase-file', passFile()], /^invalid host name 'bad_host'$/],
      ['empty passphrase file', (d) => ['encrypted', '--dir', d, '--ip', '1.2.3.4', '--passphrase-file', passFile('\nsecond line\n')], /^empty passphrase in .*pass$/],
      ['missing passphrase file', (d) => ['encrypted', '--dir', d, '--ip', '1.2.3.4', '--passphrase-file', '/nonexistent/pass'], /^cannot read the passphrase file \/nonexistent\/pass \(ENOENT\)$/],
      ['empty passphrase answer', (d) => ['encrypted', '--dir', d, '--ip', '1.2.3.4'], /^empty passphrase$/, '\n'],
      ['empty passphrase on stdin', (d) => ['encrypted', '--dir', d, '--ip', '1.2.3.4', '--passphrase-stdin'], /^empty passphrase on standard input$/, ''],
      ['end of input', (d) => ['plain', '--dir', d], /^no answer to "Enter public network ip:" \(end of input\)$/, `${SECRET}\n`],
      ['unwritable directory', (d) => { writeFileSync(path.join(d, 'f'), ''); return ['plain', '--dir', path.join(d, 'f', 'sub'), '--ip', '1.2.3.4', '--host', 'h', '--passphrase-file', passFile()]; }, /^cannot create directory .*\/f\/sub: a path component is not a directory \(ENOTDIR\)$/],
      ['unknown recipe', (d) => ['plian', '--dir', d], /^the recipe must be plain or encrypted \(see --help\)$/],
      ['extra argument (not echoed)', (d) => ['plain', SECRET, '--dir', d], /^too many arguments: expected at most one recipe/],
      ['unknown option (value not echoed)', (d) => ['plain', '--dir', d, `--bogus=${SECRET}`], /^unknown option --bogus \(see --help\)$/],
      ['passphrase on the command line (not echoed)', (d) => ['plain', '--dir', d, `--passphrase=${SECRET}`], /^the passphrase cannot be given on the command line; use --passphrase-file FILE or --passphrase-stdin$/],
      ['both passphrase options', (d) => ['plain', '--dir', d, '--passphrase-stdin', '--passphrase-file', passFile()], /^--passphrase-file and --passphrase-stdin cannot be used together$/],
      ['bad --days', (d) => ['plain', '--dir', d, '--days', '0'], /^invalid --days '0': expected a whole number of days from 1 to 36500$/],
      ['bad --days text', (d) => ['plain', '--dir', d, '--days', '1e3'], /^invalid --days '1e3'/],
      ['--dir without value', () => ['plain', '--dir'], /^option '--dir <value>' argument missing \(see --help\)$/],
    ];
    for (const [name, args, re, input] of cases) {
      it(name, async () => {
        const dir = freshDir();
        const r = await run(args(dir), { input: input ?? '' });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^isula-certs: [^\n]*\n$/);
        expect(r.stderr.slice('isula-certs: '.length, -1)).toMatch(re);
        expect(r.stdout + r.stderr).not.toContain(SECRET);
        expect(pems(dir)).toEqual([]);
      });
    }
  });

  describe('terminal input (raw mode, no echo)', () => {
    function fakeTty(): { stdin: InputStream & PassThrough; modes: boolean[] } {
      const modes: boolean[] = [];
      const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (m: boolean) => modes.push(m) });
      return { stdin, modes };
    }

    it('reads the passphrase in raw mode with Backspace, Ctrl-U and arrow keys, then restores the mode', async () => {
      const dir = freshDir();
      const { stdin, modes } = fakeTty();
      const p = run(['encrypted', '--dir', dir], { stdin });
      stdin.write('10.0.0.8\n');
      // "xx" erased by Ctrl-U, "Z" by Backspace, a left arrow ignored: the passphrase is "pass-word".
      stdin.write('xx\u0015pass-\u001b[DwordZ\u007f\r');
      const r = await p;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(modes).toEqual([true, false]);
      expect(r.stdout.startsWith('Enter public network ip:Enter pass phrase:\n')).toBe(true);
      expect(decrypts(path.join(dir, 'key.pem'), 'pass-word')).toBe(true);
    });

    it('Ctrl-C at the passphrase prompt exits 130, restores the mode, writes nothing', async () => {
      const dir = freshDir();
      const { stdin, modes } = fakeTty();
      const p = run(['plain', '--dir', dir], { stdin });
      stdin.write('abc\u0003');
      const r = await p;
      expect(r.code).toBe(130);
      expect(r.stderr).toBe('\nisula-certs: interrupted\n');
      expect(modes).toEqual([true, false]);
      expect(pems(dir)).toEqual([]);
    });
  });
});

describe('isula-certs (built, as a process)', () => {
  const require_ = createRequire(__filename);
  const build = path.join(tmp.dir, 'build');
  const cli = path.join(build, 'cli.js');
  // The build lives outside the workspace: node-forge is found through NODE_PATH.
  const nodePath = path.resolve(path.dirname(require_.resolve('node-forge/package.json')), '..');
  const env = (home: string) => ({ ...process.env, HOME: home, NODE_PATH: nodePath });

  beforeAll(() => {
    const tsc = require_.resolve('typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', path.resolve(__dirname, '..', 'tsconfig.json'), '--outDir', build, '--declaration', 'false', '--sourceMap', 'false'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
    chmodSync(cli, 0o755);
  }, 120_000);

  it('has the shebang and runs recipe 1 with real 4096-bit keys, answers piped, modes despite the umask', () => {
    expect(readFileSync(cli, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    const home = freshDir();
    const t = Date.now();
    const r = spawnSync('sh', ['-c', `umask 0277 && exec "${cli}" plain`], { env: env(home), input: `${SECRET}\n172.16.0.9\nbuilt-host\n`, encoding: 'utf8', timeout: 120_000 });
    const ms = Date.now() - t;
    console.log(`isula-certs plain (4096-bit keys, as a process): ${ms} ms`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      [
        'Enter pass phrase:',
        'Enter public network ip:',
        'Enter host:',
        ' => Using hostname: 172.16.0.9, You MUST connect to iSulad using this host!',
        ...STEP_LINES,
        ` => Wrote into ${path.join(home, '.iSulad')}:`,
        '    0400 ca-key.pem',
        '    0444 ca.pem',
        '    0400 server-key.pem',
        '    0444 server-cert.pem',
        '    0400 key.pem',
        '    0444 cert.pem',
        '',
      ].join('\n'),
    );
    const dir = path.join(home, '.iSulad');
    for (const f of KEYS) expect(modeOf(path.join(dir, f)), f).toBe(0o400);
    for (const f of CERTS) expect(modeOf(path.join(dir, f)), f).toBe(0o444);
    expect(x509Text(path.join(dir, 'server-cert.pem'))).toMatch(/Public-Key: \(4096 bit\)[^]*DNS:built-host, IP Address:172\.16\.0\.9, IP Address:127\.0\.0\.1\n/);
    expect(openssl(['verify', '-CAfile', 'ca.pem', 'server-cert.pem', 'cert.pem'], dir).status).toBe(0);
  }, 120_000);

  it('exits 1 with the message on stderr, without waiting for input', () => {
    const r = spawnSync(cli, ['encrypted', '--dir', freshDir(), '--ip', '1.2.3.4.5'], { env: env(freshDir()), encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("isula-certs: invalid IP address '1.2.3.4.5'\n");
    expect(r.stdout).toBe('');
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript)('on a real terminal the passphrase is not echoed (the IP is)', async () => {
    const dir = freshDir();
    const child = spawn('script', ['-qec', `"${cli}" encrypted --dir "${dir}"`, '/dev/null'], { env: env(freshDir()), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const waiters: [string, () => void][] = [];
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      for (const w of waiters.splice(0)) (out.includes(w[0]) ? w[1]() : waiters.push(w));
    });
    const waitFor = (s: string) => new Promise<void>((resolve) => (out.includes(s) ? resolve() : waiters.push([s, resolve])));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor('Enter public network ip:');
    child.stdin.write('10.4.4.4\r');
    await waitFor('Enter pass phrase:');
    await new Promise((r) => setTimeout(r, 200)); // raw mode is set right after the prompt
    child.stdin.write(`${SECRET}\r`);
    const code = await exit;
    child.stdin.end();
    expect(code).toBe(0);
    expect(out).toContain('10.4.4.4'); // echoed by the terminal
    expect(out).not.toContain(SECRET);
    expect(out).toContain(' => Signing client CSR with CA');
    expect(decrypts(path.join(dir, 'key.pem'), SECRET)).toBe(true);
  }, 60_000);
});
