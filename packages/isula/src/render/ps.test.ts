import { describe, expect, it } from 'vitest';
import { interpretEscapes, parsePsFormat, PsFormatError, renderPs, renderPsQuiet, sortForPs, statusText, type PsContainer } from './ps';

const now = Date.UTC(2024, 0, 2, 12, 0, 0);
const iso = (secondsAgo: number) => new Date(now - secondsAgo * 1000).toISOString();
const ID = 'a'.repeat(64);

function ctr(over: Partial<PsContainer>): PsContainer {
  return {
    id: ID,
    pid: 0,
    status: 1,
    image: 'busybox',
    command: 'sh',
    exitCode: 0,
    restartcount: 0,
    startat: '',
    finishat: '',
    runtime: 'lcr',
    name: 'c1',
    healthState: '',
    created: (now - 300_000) * 1e6,
    ...over,
  };
}

describe('statusText', () => {
  it('words every state as upstream', () => {
    expect(statusText(ctr({ status: 1 }), now)).toBe('Created');
    expect(statusText(ctr({ status: 3, startat: iso(3) }), now)).toBe('Up 3 seconds');
    expect(statusText(ctr({ status: 3, startat: iso(30), healthState: 'healthy' }), now)).toBe('Up 30 seconds (healthy)');
    expect(statusText(ctr({ status: 5, startat: iso(90) }), now)).toBe('Up About a minute (Paused)');
    expect(statusText(ctr({ status: 4, exitCode: 137, finishat: iso(300) }), now)).toBe('Exited (137) 5 minutes ago');
    expect(statusText(ctr({ status: 6, exitCode: 1, finishat: iso(7200) }), now)).toBe('Restarting (1) 2 hours ago');
    expect(statusText(ctr({ status: 2, startat: iso(2) }), now)).toBe('Starting 2 seconds');
    expect(statusText(ctr({ status: 4 }), now)).toBe('Exited (0) -');
  });
});

describe('parsePsFormat', () => {
  it('splits fields and literal text', () => {
    expect(parsePsFormat('{{.ID}}: {{.Names}}')).toEqual({ table: false, items: [{ field: 'ID' }, { text: ': ' }, { field: 'Names' }] });
    expect(parsePsFormat('table {{ .Image }}\\t{{.Status}}')).toEqual({ table: true, items: [{ field: 'Image' }, { text: '\\t' }, { field: 'Status' }] });
    expect(parsePsFormat('id={{.ID}}').items).toEqual([{ text: 'id=' }, { field: 'ID' }]);
  });
  it('refuses what upstream refuses', () => {
    expect(() => parsePsFormat('{{json .ID}}')).toThrow(new PsFormatError('invalid format field: {{json .ID}}'));
    expect(() => parsePsFormat('{{.Foo}}')).toThrow(new PsFormatError('--format not support the field: Foo'));
  });
});

describe('interpretEscapes', () => {
  it('handles \\n \\t \\\\ and keeps other backslashes', () => {
    expect(interpretEscapes('a\\tb\\nc\\\\d\\xe\\')).toBe('a\tb\nc\\d\\xe\\');
  });
});

describe('renderPs', () => {
  it('prints the default table with tabs between padded columns', () => {
    const out = renderPs([ctr({ status: 3, startat: iso(3), name: 'web', command: 'sleep 1000' })], { nowMs: now });
    const [head, row] = out.split('\n');
    expect(head).toBe(['CONTAINER ID', 'IMAGE  ', 'COMMAND     ', 'CREATED      ', 'STATUS      ', 'PORTS', 'NAMES'].join('\t'));
    expect(row).toBe([ID.slice(0, 12), 'busybox', '"sleep 1000"', '5 minutes ago', 'Up 3 seconds', '     ', 'web  '].join('\t'));
    expect(out.endsWith('\n')).toBe(true);
  });

  it('cuts long commands to 17 characters and caps the COMMAND header at 22', () => {
    const out = renderPs([ctr({ command: 'sh -c while true; do echo hi; done' }), ctr({ command: 'top' })], { nowMs: now });
    const lines = out.split('\n');
    expect(lines[0]!.split('\t')[2]).toBe('COMMAND'.padEnd(22));
    expect(lines[1]!.split('\t')[2]).toBe('"sh -c while true;..." ');
    expect(lines[2]!.split('\t')[2]).toBe('"top"'.padEnd(22));
  });

  it('keeps full ids with --no-trunc and fills defaults', () => {
    const out = renderPs([ctr({ image: '', name: '', command: '' })], { nowMs: now, noTrunc: true, format: parsePsFormat('{{.ID}} {{.Image}} {{.Names}} {{.Command}} {{.Runtime}} {{.Pid}}') });
    expect(out).toBe(`${ID} none  -     "-"     lcr     -  \n`);
  });

  it('prints only the rows for a format without table', () => {
    const out = renderPs([ctr({ name: 'a' }), ctr({ name: 'b', status: 4, exitCode: 2 })], { nowMs: now, format: parsePsFormat('{{.Names}}:{{.State}}:{{.ExitCode}}') });
    expect(out).toBe('a    :inited:0        \nb    :exited:2        \n');
  });
});

describe('sortForPs and quiet', () => {
  it('orders by start time, most recent first, never started last', () => {
    const list = [ctr({ name: 'old', startat: iso(100) }), ctr({ name: 'never' }), ctr({ name: 'new', startat: iso(1) })];
    expect(sortForPs(list).map((c) => c.name)).toEqual(['new', 'old', 'never']);
  });
  it('prints full ids one per line', () => {
    expect(renderPsQuiet([ctr({}), ctr({ id: 'short' })])).toBe(`${ID}\nshort       \n`);
  });
});
