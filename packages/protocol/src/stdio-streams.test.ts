import { describe, expect, it } from 'vitest';
import { decodeRemoteExec, DetachKeyDetector, encodeRemoteExec, escapeMetadataText, readStreamTrailers, streamTrailers, unescapeMetadataText } from './stdio-streams';

describe('isulad-remote-exec JSON', () => {
  it('round-trips a request, leaving out empty values like upstream', () => {
    const json = encodeRemoteExec({ container_id: 'abc', tty: false, attach_stdout: true, argv: ['sh', '-c', 'exit 7'], env: [], user: '', suffix: 'x1' });
    expect(JSON.parse(json)).toEqual({ container_id: 'abc', attach_stdout: true, argv: ['sh', '-c', 'exit 7'], suffix: 'x1' });
    const back = decodeRemoteExec(json);
    expect(back).toMatchObject({ container_id: 'abc', tty: false, attach_stdin: false, attach_stdout: true, argv: ['sh', '-c', 'exit 7'], env: [], user: '', workdir: '', suffix: 'x1', timeout: 0 });
  });

  it('keeps the header ASCII: non-ASCII argv is \\u-escaped and decodes back', () => {
    const json = encodeRemoteExec({ container_id: 'c', argv: ['echo', 'héllo ✓'] });
    expect(/^[\x20-\x7e]*$/.test(json)).toBe(true);
    expect(decodeRemoteExec(json).argv).toEqual(['echo', 'héllo ✓']);
  });

  it('says what is wrong with a malformed request', () => {
    expect(() => decodeRemoteExec('{')).toThrow();
    expect(() => decodeRemoteExec('[]')).toThrow('not a JSON object');
    expect(() => decodeRemoteExec('{"tty":"yes"}')).toThrow('tty: expected a boolean');
    expect(() => decodeRemoteExec('{"argv":[1]}')).toThrow('argv: expected an array of strings');
    expect(() => decodeRemoteExec('{"timeout":1.5}')).toThrow('timeout: expected an integer');
  });
});

describe('stream trailers', () => {
  it('carry cc, an escaped errmsg and the exit code', () => {
    const t = streamTrailers(5, 'bad "thing"\nnext line é', 7);
    expect(t.cc).toBe('5');
    expect(t.exit_code).toBe('7');
    expect(/^[\x20-\x7e]*$/.test(t.errmsg!)).toBe(true);
    expect(readStreamTrailers(t)).toEqual({ cc: 5, errmsg: 'bad "thing"\nnext line é', exitCode: 7 });
  });

  it('read as success when cc is absent (upstream client default), exit code unknown', () => {
    expect(readStreamTrailers({})).toEqual({ cc: 0, errmsg: '', exitCode: undefined });
  });

  it('leave text that is not a valid escape alone', () => {
    expect(unescapeMetadataText('a\\qb')).toBe('a\\qb');
    expect(unescapeMetadataText(escapeMetadataText('tab\there'))).toBe('tab\there');
  });
});

describe('DetachKeyDetector', () => {
  it('finds ctrl-p ctrl-q across chunks and forwards everything before it', () => {
    const d = new DetachKeyDetector();
    expect(d.push(Buffer.from('ab\x10'))).toEqual({ forward: Buffer.from('ab'), detach: false });
    expect(d.push(Buffer.from('\x11zz'))).toEqual({ forward: Buffer.alloc(0), detach: true });
  });

  it('lets a lone ctrl-p through once the next byte shows it is not the sequence', () => {
    const d = new DetachKeyDetector();
    expect(d.push(Buffer.from('\x10x'))).toEqual({ forward: Buffer.from('\x10x'), detach: false });
    expect(d.push(Buffer.from('\x10\x10\x11'))).toEqual({ forward: Buffer.from('\x10'), detach: true });
  });
});
