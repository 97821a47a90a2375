import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parsePsOutput, parseRuncPs, top, TopError, validatePsArgs } from './ps';

const PS_EF = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 07:50 ?        00:00:01 /sbin/init
root         100       1  0 07:51 ?        00:00:00 sh -c sleep 1000
root         101     100  0 07:51 ?        00:00:00 sleep 1000
root         200       1  0 07:52 ?        00:00:00 other process
`;

describe('parsePsOutput', () => {
  it('keeps the header and the container lines verbatim', () => {
    expect(parsePsOutput(PS_EF, [100, 101])).toEqual({
      titles: 'UID          PID    PPID  C STIME TTY          TIME CMD',
      processes: [
        'root         100       1  0 07:51 ?        00:00:00 sh -c sleep 1000',
        'root         101     100  0 07:51 ?        00:00:00 sleep 1000',
      ],
    });
  });

  it('no matching pid → header only', () => {
    expect(parsePsOutput(PS_EF, [999]).processes).toEqual([]);
  });

  it('thread lines ("-" PID) follow the process before them', () => {
    const out = `USER PID %CPU COMMAND
root 100 0.0 sh
root - 0.0 -
root 200 0.0 other
root - 0.0 -
`;
    expect(parsePsOutput(out, [100]).processes).toEqual(['root 100 0.0 sh', 'root - 0.0 -']);
  });

  it("Couldn't find PID field", () => {
    expect(() => parsePsOutput('USER COMMAND\nroot sh\n', [1])).toThrow(new TopError("Couldn't find PID field in ps output"));
    expect(() => parsePsOutput('', [1])).toThrow("Couldn't find PID field in ps output");
  });

  it('unexpected pid', () => {
    expect(() => parsePsOutput('PID CMD\nabc sh\n', [1])).toThrow("Unexpected pid 'abc': invalid syntax");
  });
});

describe('validatePsArgs', () => {
  it.each([[['-ef']], [['-o', 'pid=PID,comm']], [['-eo', 'pid,args']]])('%j is fine', (args) => {
    expect(() => validatePsArgs(args)).not.toThrow();
  });
  it('refuses renaming another column to PID', () => {
    expect(() => validatePsArgs(['-o', 'user=PID'])).toThrow('specifying "user=PID" is not allowed');
  });
});

describe('parseRuncPs', () => {
  it('parses the pid array, null and empty', () => {
    expect(parseRuncPs('[12,34]\n')).toEqual([12, 34]);
    expect(parseRuncPs(Buffer.from('null\n'))).toEqual([]);
    expect(parseRuncPs('[]')).toEqual([]);
    expect(parseRuncPs('')).toEqual([]);
  });
  it.each(['{', '{"a":1}', '["1"]', '[1.5]', '[-1]'])('%j is invalid', (text) => {
    expect(() => parseRuncPs(text)).toThrow(TopError);
  });
});

describe('top (runs the real ps)', () => {
  it('finds a child process of ours with the default -ef', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      const r = await top([pid], []);
      expect(r.titles.split(/\s+/)).toContain('PID');
      expect(r.processes).toHaveLength(1);
      expect(r.processes[0]).toMatch(new RegExp(`\\b${pid}\\b.*sleep 30`));
    } finally {
      child.kill();
    }
  });

  it('custom args', async () => {
    const r = await top([process.pid], ['-o', 'pid,comm', '-p', String(process.pid)]);
    expect(r.titles.trim().split(/\s+/)).toEqual(['PID', 'COMMAND']);
    expect(r.processes).toHaveLength(1);
  });

  it('ps failing is reported as Docker does', async () => {
    await expect(top([1], ['--no-such-option'])).rejects.toThrow(/^Error running ps: /);
    await expect(top([1], [], { psPath: '/nonexistent/ps' })).rejects.toThrow(/^Error running ps: /);
  });
});
