import { describe, expect, it } from 'vitest';
import { ArgvError, findIsulaCommand, parseArgs, parseBoolWord, type OptionSpec, type ParsedArgs } from './index';

const runOptions: OptionSpec[] = findIsulaCommand('run')!.options;
const psOptions: OptionSpec[] = findIsulaCommand('ps')!.options;

function ok(values: ParsedArgs['values'], positionals: string[] = [], help = false): ParsedArgs {
  return { values, positionals, help };
}

function errorOf(fn: () => unknown): ArgvError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ArgvError);
    return e as ArgvError;
  }
  throw new Error('expected an ArgvError');
}

describe('spec examples (命令行参数解析限制)', () => {
  const equivalent: Array<[string, string[]]> = [
    ['-du=root busybox', ['-du=root', 'busybox']],
    ['-du root busybox', ['-du', 'root', 'busybox']],
    ['-d -u=root busybox', ['-d', '-u=root', 'busybox']],
    ['-d -u root busybox', ['-d', '-u', 'root', 'busybox']],
    ['-ud root busybox', ['-ud', 'root', 'busybox']],
    ['--detach --user=root busybox', ['--detach', '--user=root', 'busybox']],
    ['--detach --user root busybox', ['--detach', '--user', 'root', 'busybox']],
  ];
  it.each(equivalent)('run %s => detach + user=root', (_label, argv) => {
    expect(parseArgs(argv, runOptions)).toEqual(ok({ detach: true, user: 'root' }, ['busybox']));
  });

  it.each([
    [['--user=root', 'busybox']],
    [['--user', 'root', 'busybox']],
  ])('--user=root ≡ --user root (%j)', (argv) => {
    expect(parseArgs(argv, runOptions)).toEqual(ok({ user: 'root' }, ['busybox']));
  });

  it('-du:root busybox fails because ":" is not a short flag', () => {
    const err = errorOf(() => parseArgs(['-du:root', 'busybox'], runOptions));
    expect(err.message).toBe("Unknown flag found:':'");
    expect(err.exitCode).toBe(125);
  });

  it('-du:root with nothing after it fails on the missing value first (upstream order)', () => {
    const err = errorOf(() => parseArgs(['-du:root'], runOptions));
    expect(err.message).toBe('Flag needs an argument: --user');
    expect(err.exitCode).toBe(125);
  });
});

describe('grammar', () => {
  const cases: Array<[string, string[], ParsedArgs]> = [
    ['options stop at first positional', ['-it', 'busybox', 'ls', '-l'], ok({ interactive: true, tty: true }, ['busybox', 'ls', '-l'])],
    ['later flags after the image are passed through', ['busybox', '--rm', '-d'], ok({}, ['busybox', '--rm', '-d'])],
    ['-- ends options and is dropped', ['-d', '--', '-notaflag', 'x'], ok({ detach: true }, ['-notaflag', 'x'])],
    ['-- alone', ['--'], ok({}, [])],
    ['lone - is a positional', ['-t', '-', 'x'], ok({ tty: true }, ['-', 'x'])],
    ['empty argv', [], ok({})],
    ['cluster -itd', ['-itd', 'img'], ok({ interactive: true, tty: true, detach: true }, ['img'])],
    ['--rm=false', ['--rm=false', 'img'], ok({ rm: false }, ['img'])],
    ['--rm=true', ['--rm=true', 'img'], ok({ rm: true }, ['img'])],
    ['-t=false', ['-t=false', 'img'], ok({ tty: false }, ['img'])],
    ['-dt=0 inside a cluster', ['-dt=0', 'img'], ok({ detach: true, tty: false }, ['img'])],
    ['bool never consumes the next token', ['--rm', 'false'], ok({ rm: true }, ['false'])],
    ['-o=value attaches', ['-n=web', 'img'], ok({ name: 'web' }, ['img'])],
    ['-u= gives an empty value', ['-u=', 'img'], ok({ user: '' }, ['img'])],
    ['--name= gives an empty value', ['--name=', 'img'], ok({ name: '' }, ['img'])],
    ['--x=a=b keeps everything after the first =', ['-e', 'A=1', '--env=B=2=3', 'img'], ok({ env: ['A=1', 'B=2=3'] }, ['img'])],
    ['value-taking short flag last in cluster: -tiv /a:/b', ['-tiv', '/a:/b', 'img'], ok({ tty: true, interactive: true, volume: ['/a:/b'] }, ['img'])],
    [
      'quirk: -ovalue does not attach, remaining letters are flags',
      ['-nit', 'web', 'img'],
      ok({ name: 'web', interactive: true, tty: true }, ['img']),
    ],
    ['value is taken even if it looks like a flag', ['--name', '--rm', 'img'], ok({ name: '--rm' }, ['img'])],
    ['short value taken even if it looks like a flag', ['-u', '-d', 'img'], ok({ user: '-d' }, ['img'])],
    ['list appends in order', ['-v', '/a:/a', '--volume=/b:/b', '-v=/c:/c', 'img'], ok({ volume: ['/a:/a', '/b:/b', '/c:/c'] }, ['img'])],
    ['repeated string: last wins', ['--name', 'a', '-n', 'b', '--name=c', 'img'], ok({ name: 'c' }, ['img'])],
    ['--tls is exact', ['--tls', 'img'], ok({ tls: true }, ['img'])],
    ['--tlsverify is exact', ['--tlsverify', 'img'], ok({ tlsverify: true }, ['img'])],
    ['--tls=false and --tlsverify', ['--tls=false', '--tlsverify', 'img'], ok({ tls: false, tlsverify: true }, ['img'])],
    ['-h is hostname on run', ['-h', 'box', 'img'], ok({ hostname: 'box' }, ['img'])],
    ['-H host', ['-H', 'unix:///var/run/isulad.sock', 'img'], ok({ host: 'unix:///var/run/isulad.sock' }, ['img'])],
    ['-D debug', ['-D', 'img'], ok({ debug: true }, ['img'])],
    ['ps -a -n 3', ['-a', '-n', '3'], ok({ all: true, last: '3' })],
  ];
  it.each(cases)('%s', (_label, argv, expected) => {
    const opts = _label.startsWith('ps') ? psOptions : runOptions;
    expect(parseArgs(argv, opts)).toEqual(expected);
  });
});

describe('boolean words', () => {
  it.each(['1', 't', 'T', 'true', 'TRUE', 'True'])('%s is true', (w) => {
    expect(parseBoolWord(w)).toBe(true);
    expect(parseArgs([`--rm=${w}`], runOptions).values.rm).toBe(true);
  });
  it.each(['0', 'f', 'F', 'false', 'FALSE', 'False'])('%s is false', (w) => {
    expect(parseBoolWord(w)).toBe(false);
    expect(parseArgs([`-t=${w}`], runOptions).values.tty).toBe(false);
  });
  it.each(['yes', 'no', 'tRuE', 'on', '', '2'])('%j is rejected', (w) => {
    expect(parseBoolWord(w)).toBeUndefined();
  });
});

describe('errors (exit code 125)', () => {
  const cases: Array<[string, string[], OptionSpec[], string]> = [
    ['bad bool value (long)', ['--rm=x', 'img'], runOptions, 'Invalid boolean value "x" for flag --rm'],
    ['bad bool value (short, reported with long name)', ['-t=yes', 'img'], runOptions, 'Invalid boolean value "yes" for flag --tty'],
    ['empty bool value', ['--rm=', 'img'], runOptions, 'Invalid boolean value "" for flag --rm'],
    ['unknown short', ['-x', 'img'], runOptions, "Unknown flag found:'x'"],
    ['unknown short inside cluster', ['-itz', 'img'], runOptions, "Unknown flag found:'z'"],
    ['-h is unknown where hostname is not declared', ['-h'], psOptions, "Unknown flag found:'h'"],
    ['unknown long', ['--foo', 'img'], runOptions, "Unknown flag found:'--foo'"],
    ['unknown long keeps the =value part', ['--foo=bar', 'img'], runOptions, "Unknown flag found:'--foo=bar'"],
    ['prefix is not a match', ['--tl', 'img'], runOptions, "Unknown flag found:'--tl'"],
    ['--tlsverif is not --tlsverify', ['--tlsverif'], runOptions, "Unknown flag found:'--tlsverif'"],
    ['triple dash', ['---rm'], runOptions, "Unknown flag found:'---rm'"],
    ['missing value (long)', ['--name'], runOptions, 'Flag needs an argument: --name'],
    ['missing value (short, reported with long name)', ['-n'], runOptions, 'Flag needs an argument: --name'],
    ['missing value at end of cluster', ['-itv'], runOptions, 'Flag needs an argument: --volume'],
  ];
  it.each(cases)('%s', (_label, argv, opts, message) => {
    const err = errorOf(() => parseArgs(argv, opts));
    expect(err.message).toBe(message);
    expect(err.exitCode).toBe(125);
    expect(err.name).toBe('ArgvError');
  });

  it('--tls declared alone does not accept --tlsverify', () => {
    const opts: OptionSpec[] = [{ long: 'tls', kind: 'bool', description: '' }];
    expect(errorOf(() => parseArgs(['--tlsverify'], opts)).message).toBe("Unknown flag found:'--tlsverify'");
  });

  it('--tlsverify declared alone does not accept --tls', () => {
    const opts: OptionSpec[] = [{ long: 'tlsverify', kind: 'bool', description: '' }];
    expect(errorOf(() => parseArgs(['--tls'], opts)).message).toBe("Unknown flag found:'--tls'");
  });
});

describe('--help', () => {
  it.each([
    [['--help']],
    [['-d', '--help']],
    [['--name', 'x', '--help', 'img']],
    [['--help', '--bogus-after-help']],
    [['--help=true']],
  ])('is recognised before the first positional: %j', (argv) => {
    const r = parseArgs(argv, runOptions);
    expect(r.help).toBe(true);
    expect(r.positionals).toEqual([]);
  });

  it('is recognised even with no declared options', () => {
    expect(parseArgs(['--help'], []).help).toBe(true);
  });

  it('after the first positional it is an argument', () => {
    expect(parseArgs(['img', '--help'], runOptions)).toEqual(ok({}, ['img', '--help']));
  });

  it('after -- it is an argument', () => {
    expect(parseArgs(['--', '--help'], runOptions)).toEqual(ok({}, ['--help']));
  });

  it('--help=false does not request help', () => {
    expect(parseArgs(['--help=false', 'img'], runOptions)).toEqual(ok({}, ['img']));
  });

  it('an error before --help still wins', () => {
    expect(errorOf(() => parseArgs(['--bogus', '--help'], runOptions)).message).toBe("Unknown flag found:'--bogus'");
  });

  it('is not a short flag', () => {
    expect(errorOf(() => parseArgs(['-?'], runOptions)).message).toBe("Unknown flag found:'?'");
  });
});

describe('ParsedArgs shape', () => {
  it('only contains given options and does not alias the input', () => {
    const argv = ['-e', 'A=1', 'img', 'cmd'];
    const r = parseArgs(argv, runOptions);
    expect(Object.keys(r.values)).toEqual(['env']);
    r.positionals.push('x');
    expect(argv).toEqual(['-e', 'A=1', 'img', 'cmd']);
  });

  it('ArgvError is an Error', () => {
    const e = new ArgvError('m');
    expect(e).toBeInstanceOf(Error);
    expect(e.exitCode).toBe(125);
  });
});
