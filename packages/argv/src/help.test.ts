import { describe, expect, it } from 'vitest';
import {
  commonOptions,
  findIsulaCommand,
  isulaCommandGroups,
  isulaCommands,
  isulaGroupHelp,
  isulaTopLevelHelp,
  renderHelp,
  type CommandSpec,
} from './index';

/** Option lines of a rendered help text (they start with two blanks). */
function optionLines(text: string): string[] {
  return text.split('\n').filter((l) => /^ {2}(-\S, | {4})--/.test(l));
}

function longOf(line: string): string {
  return /--(\S+)/.exec(line)![1];
}

describe('renderHelp layout', () => {
  const spec: CommandSpec = {
    name: 'demo',
    usage: 'isula demo [OPTIONS] THING',
    description: 'Do a demo thing',
    options: [
      { long: 'zeta', kind: 'bool', description: 'Z flag' },
      { long: 'alpha', short: 'a', kind: 'string', description: 'A value' },
      { long: 'a-very-long-option', kind: 'list', description: 'Long one' },
    ],
  };
  const text = renderHelp(spec);

  it('starts with a blank line, the usage line, the description', () => {
    expect(text.startsWith('\nUsage:  isula demo [OPTIONS] THING\n\nDo a demo thing\n\n')).toBe(true);
  });

  it('ends the option table with an empty line', () => {
    expect(text.endsWith('Z flag\n\n')).toBe(true);
  });

  it('sorts options by long name and adds the implicit --help', () => {
    expect(optionLines(text).map(longOf)).toEqual(['a-very-long-option', 'alpha', 'help', 'zeta']);
  });

  it('aligns descriptions at longest long name + 12', () => {
    // "a-very-long-option" has 18 characters -> column 30
    expect(optionLines(text)).toEqual([
      '      --a-very-long-option    Long one',
      '  -a, --alpha                 A value',
      '      --help                  Show help',
      '      --zeta                  Z flag',
    ]);
  });

  it('renders the whole text exactly', () => {
    expect(text).toBe(
      '\nUsage:  isula demo [OPTIONS] THING\n\nDo a demo thing\n\n' +
        '      --a-very-long-option    Long one\n' +
        '  -a, --alpha                 A value\n' +
        '      --help                  Show help\n' +
        '      --zeta                  Z flag\n' +
        '\n',
    );
  });

  it('does not duplicate --help when it is declared', () => {
    const t = renderHelp({ ...spec, options: [...spec.options, { long: 'help', kind: 'bool', description: 'Own help' }] });
    expect(optionLines(t).filter((l) => l.includes('--help'))).toEqual(['      --help                  Own help']);
  });

  it.each(isulaCommands.map((c) => [c.name, c] as const))('isula %s --help is sorted and aligned', (_name, c) => {
    const t = renderHelp(c);
    expect(t.startsWith(`\nUsage:  ${c.usage}\n\n${c.description}\n\n`)).toBe(true);
    const lines = optionLines(t);
    expect(lines).toHaveLength(c.options.length + 1);
    const longs = lines.map(longOf);
    expect(longs).toEqual([...longs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const col = Math.max(...longs.map((l) => l.length)) + 12;
    for (const l of lines) {
      expect(l.length).toBeGreaterThan(col);
      expect(l.slice(0, col).endsWith(' ')).toBe(true);
      expect(l[col]).not.toBe(' ');
    }
  });

  it('run help shows the usage line from upstream', () => {
    expect(renderHelp(findIsulaCommand('run')!)).toContain('\nUsage:  isula run [OPTIONS] ROOTFS|IMAGE [COMMAND] [ARG...]\n');
    expect(renderHelp(findIsulaCommand('volume ls')!)).toContain('\nUsage:  isula volume ls [OPTIONS]\n');
  });
});

describe('isulaCommands', () => {
  const names = isulaCommands.map((c) => c.name);

  it('has unique command names', () => {
    expect(new Set(names).size).toBe(names.length);
  });

  it.each([
    'attach', 'cp', 'create', 'events', 'exec', 'export', 'images', 'import', 'info', 'inspect', 'kill', 'load',
    'login', 'logout', 'logs', 'pause', 'port', 'ps', 'pull', 'rename', 'restart', 'rm', 'rmi', 'run', 'search',
    'start', 'stats', 'stop', 'tag', 'top', 'unpause', 'update', 'version', 'wait',
    'volume ls', 'volume rm', 'volume prune',
    'network create', 'network inspect', 'network ls', 'network rm',
  ])('contains %s', (name) => {
    expect(names).toContain(name);
  });

  it.each(isulaCommands.map((c) => [c.name, c] as const))('%s: unique long/short names, common options present', (name, c) => {
    const longs = c.options.map((o) => o.long);
    const shorts = c.options.flatMap((o) => (o.short ? [o.short] : []));
    expect(new Set(longs).size).toBe(longs.length);
    expect(new Set(shorts).size).toBe(shorts.length);
    for (const s of shorts) expect(s).toHaveLength(1);
    expect(longs).not.toContain('help');
    for (const common of commonOptions) {
      if (name === 'login' && common.long === 'debug') {
        expect(longs).not.toContain('debug');
        continue;
      }
      expect(c.options).toContainEqual(common);
    }
    expect(c.usage.startsWith(`isula ${name}`)).toBe(true);
    expect(c.description.length).toBeGreaterThan(0);
  });

  it('common options are -D, -H and the TLS flags', () => {
    expect(commonOptions.map((o) => [o.long, o.short ?? '', o.kind])).toEqual([
      ['debug', 'D', 'bool'],
      ['host', 'H', 'string'],
      ['tls', '', 'bool'],
      ['tlscacert', '', 'string'],
      ['tlscert', '', 'string'],
      ['tlskey', '', 'string'],
      ['tlsverify', '', 'bool'],
    ]);
  });

  const kinds: Array<[string, string, string | undefined, string]> = [
    ['run', 'detach', 'd', 'bool'],
    ['run', 'rm', undefined, 'bool'],
    ['run', 'env', 'e', 'list'],
    ['run', 'volume', 'v', 'list'],
    ['run', 'hostname', 'h', 'string'],
    ['run', 'publish', 'p', 'list'],
    ['run', 'publish-all', 'P', 'bool'],
    ['run', 'runtime', 'R', 'string'],
    ['create', 'interactive', 'i', 'bool'],
    ['create', 'label', 'l', 'list'],
    ['create', 'memory', 'm', 'string'],
    ['create', 'pull', undefined, 'string'],
    ['exec', 'workdir', undefined, 'string'],
    ['exec', 'detach', 'd', 'bool'],
    ['ps', 'filter', 'f', 'list'],
    ['ps', 'last', 'n', 'string'],
    ['ps', 'latest', 'l', 'bool'],
    ['inspect', 'format', 'f', 'string'],
    ['inspect', 'time', 't', 'string'],
    ['logs', 'tail', undefined, 'string'],
    ['logs', 'timestamps', 't', 'bool'],
    ['kill', 'signal', 's', 'string'],
    ['stop', 'time', 't', 'string'],
    ['start', 'attach', 'a', 'bool'],
    ['events', 'since', 'S', 'string'],
    ['events', 'until', 'U', 'string'],
    ['export', 'output', 'o', 'string'],
    ['load', 'input', 'i', 'string'],
    ['login', 'password-stdin', undefined, 'bool'],
    ['search', 'limit', undefined, 'string'],
    ['search', 'filter', 'f', 'list'],
    ['volume ls', 'quiet', 'q', 'bool'],
    ['volume prune', 'force', 'f', 'bool'],
    ['network create', 'driver', 'd', 'string'],
    ['network create', 'internal', undefined, 'bool'],
    ['network ls', 'filter', 'f', 'list'],
    ['network inspect', 'format', 'f', 'string'],
  ];
  it.each(kinds)('%s --%s (-%s) is %s', (cmd, long, short, kind) => {
    const o = findIsulaCommand(cmd)!.options.find((x) => x.long === long);
    expect(o).toBeDefined();
    expect(o!.short).toBe(short);
    expect(o!.kind).toBe(kind);
  });

  it('create has every create/run option of run except --detach', () => {
    const create = findIsulaCommand('create')!.options.map((o) => o.long);
    const run = findIsulaCommand('run')!.options.map((o) => o.long);
    expect(run.filter((l) => !create.includes(l))).toEqual(['detach']);
    expect(create.filter((l) => !run.includes(l))).toEqual([]);
  });
});

describe('isulaTopLevelHelp', () => {
  const text = isulaTopLevelHelp();
  const lines = text.split('\n');

  it('starts with the usage block', () => {
    expect(text.startsWith('USAGE:\n\tisula <command> [args...]\n\nMANAGEMENT COMMANDS:\n')).toBe(true);
  });

  it('lists management commands, then commands, then common options', () => {
    const mgmtStart = lines.indexOf('MANAGEMENT COMMANDS:');
    const cmdStart = lines.indexOf('COMMANDS:');
    const optStart = lines.indexOf('COMMON OPTIONS :');
    expect(mgmtStart).toBe(3);
    expect(cmdStart).toBeGreaterThan(mgmtStart);
    expect(optStart).toBeGreaterThan(cmdStart);
    const mgmt = lines.slice(mgmtStart + 1, cmdStart - 1).map((l) => l.split('\t')[1].trim());
    expect(mgmt).toEqual(Object.keys(isulaCommandGroups).sort());
    const cmds = lines.slice(cmdStart + 1, optStart - 1).map((l) => l.split('\t')[1].trim());
    const expected = isulaCommands.filter((c) => !c.name.includes(' ')).map((c) => c.name).sort();
    expect(cmds).toEqual(expected);
  });

  it('pads command names to the longest name with tab separators', () => {
    const width = Math.max(
      ...isulaCommands.filter((c) => !c.name.includes(' ')).map((c) => c.name.length),
      ...Object.keys(isulaCommandGroups).map((n) => n.length),
    );
    expect(width).toBe(7);
    expect(lines).toContain(`\trun    \t${findIsulaCommand('run')!.description}`);
    expect(lines).toContain(`\tunpause\t${findIsulaCommand('unpause')!.description}`);
    expect(lines).toContain(`\tvolume \t${isulaCommandGroups.volume}`);
  });

  it('ends with the common options table (no -D, with --help and --version)', () => {
    const opts = optionLines(text.slice(text.indexOf('COMMON OPTIONS :')));
    expect(opts.map(longOf)).toEqual(['help', 'host', 'tls', 'tlscacert', 'tlscert', 'tlskey', 'tlsverify', 'version']);
    for (const l of opts) expect(l[21]).not.toBe(' ');
    expect(text.endsWith('\n\n')).toBe(true);
  });
});

describe('isulaGroupHelp', () => {
  it('lists volume sub-commands', () => {
    const t = isulaGroupHelp('volume');
    expect(t.startsWith('USAGE:\n\tisula volume <command> [args...]\n\nCOMMANDS:\n\tls   \t')).toBe(true);
    expect(t).toContain('\n\tprune\t');
    expect(t).toContain('\n\trm   \t');
    expect(t.endsWith('\nRun isula volume COMMAND --help for more information on the COMMAND\n')).toBe(true);
  });

  it('lists network sub-commands in order', () => {
    const names = isulaGroupHelp('network')
      .split('\n')
      .filter((l) => l.startsWith('\t') && !l.startsWith('\tisula'))
      .map((l) => l.split('\t')[1].trim());
    expect(names).toEqual(['create', 'inspect', 'ls', 'rm']);
  });
});
