import { describe, expect, it } from 'vitest';
import { addLogOpt, parseLogDriver } from './logging';
import { usageErrorOf } from './test-util';

describe('--log-driver / --log-opt', () => {
  it('drivers', () => {
    expect(parseLogDriver('json-file')).toBe('json-file');
    expect(parseLogDriver('syslog')).toBe('syslog');
    expect(usageErrorOf(() => parseLogDriver('journald'))).toBe('Invalid value "journald" for flag --log-driver');
  });
  it('maps keys to log.console.* annotations', () => {
    const a: Record<string, string> = {};
    addLogOpt(a, 'max-size=10MB');
    addLogOpt(a, 'max-file=3');
    addLogOpt(a, 'disable-log=true');
    addLogOpt(a, 'syslog-tag=app');
    addLogOpt(a, 'syslog-facility=local0');
    expect(a).toEqual({
      'log.console.filesize': '10MB',
      'log.console.filerotate': '3',
      'log.console.file': 'none',
      'log.console.tag': 'app',
      'log.console.facility': 'local0',
    });
    const b: Record<string, string> = {};
    addLogOpt(b, 'disable-log=false');
    expect(b).toEqual({});
  });
  it.each(['max-size', 'max-size=', '=1', 'a', 'foo=bar', 'max-file=0', 'max-file=x', 'disable-log=yes', 'syslog-facility=nope'])(
    'rejects %j',
    (opt) => {
      expect(usageErrorOf(() => addLogOpt({}, opt))).toBe(`Invalid option: ${opt}`);
    },
  );
  it('refuses keys of the other driver', () => {
    expect(usageErrorOf(() => addLogOpt({}, 'max-size=1m', 'syslog'))).toBe('driver: syslog, unsupport opts: max-size');
    expect(usageErrorOf(() => addLogOpt({}, 'syslog-tag=x', 'json-file'))).toBe('driver: json-file, unsupport opts: syslog-tag');
  });
});
