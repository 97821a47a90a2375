import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidHostError, resolveEndpoint, TlsFileError, type Endpoint } from './endpoint';
import { requestFields } from './transport/h2-lite';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'isula-endpoint-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/O=isula/CN=alice'], { cwd: dir, stdio: 'pipe' });
  writeFileSync(join(dir, 'ca.pem'), execFileSync('cat', [join(dir, 'cert.pem')]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tcp = (ep: Endpoint) => {
  if (ep.kind !== 'tcp') throw new Error('expected a tcp endpoint');
  return ep;
};
const noEnv = {};

describe('resolveEndpoint: the spec\'s client TLS modes', () => {
  it('mode 1: --tlsverify with CA, certificate and key; the CN becomes username, tls_mode 1', () => {
    const ep = tcp(resolveEndpoint({ host: 'tcp://127.0.0.1:2376', tlsVerify: true, tlsCaCert: join(dir, 'ca.pem'), tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') }, noEnv));
    expect(ep.tls).toMatchObject({ verify: true, caPath: join(dir, 'ca.pem'), clientName: 'alice' });
    expect(ep.tls?.cert).toBeDefined();
    const fields = Object.fromEntries(requestFields(ep, '/x/Y'));
    expect(fields).toMatchObject({ tls_mode: '1', username: 'alice', ':scheme': 'https' });
  });

  it('mode 2: --tlsverify with the CA only (no client certificate where the defaults point)', () => {
    const ep = tcp(resolveEndpoint({ host: 'tcp://127.0.0.1:2376', tlsVerify: true, tlsCaCert: join(dir, 'ca.pem') }, { ISULAD_CERT_PATH: join(dir, 'nothing-here') }));
    expect(ep.tls?.verify).toBe(true);
    expect(ep.tls?.cert).toBeUndefined();
    expect(Object.fromEntries(requestFields(ep, '/x/Y'))).toMatchObject({ tls_mode: '0', username: '' });
  });

  it('ISULAD_CERT_PATH supplies ca.pem, cert.pem and key.pem; ISULAD_TLS_VERIFY turns verification on', () => {
    const ep = tcp(resolveEndpoint({ host: 'tcp://127.0.0.1:2376' }, { ISULAD_CERT_PATH: dir, ISULAD_TLS_VERIFY: '1' }));
    expect(ep.tls).toMatchObject({ verify: true, caPath: join(dir, 'ca.pem'), clientName: 'alice' });
  });

  it('--tls alone encrypts without checking the daemon; ISULAD_TLS=0 means off', () => {
    expect(tcp(resolveEndpoint({ host: 'tcp://127.0.0.1:2376', tls: true }, { ISULAD_CERT_PATH: join(dir, 'none') })).tls).toEqual({ verify: false });
    expect(tcp(resolveEndpoint({ host: 'tcp://127.0.0.1:2376' }, { ISULAD_TLS: '0' })).tls).toBeUndefined();
  });

  it('a missing CA or an explicit certificate that is not there is a clear error, naming the file', () => {
    expect(() => resolveEndpoint({ host: 'tcp://127.0.0.1:2376', tlsVerify: true, tlsCaCert: join(dir, 'no-ca.pem') }, noEnv)).toThrow(
      new TlsFileError(join(dir, 'no-ca.pem'), 'CA certificate', 'no such file'),
    );
    expect(() => resolveEndpoint({ host: 'tcp://127.0.0.1:2376', tlsVerify: true, tlsCaCert: join(dir, 'ca.pem'), tlsCert: join(dir, 'gone.pem'), tlsKey: join(dir, 'key.pem') }, noEnv)).toThrow(
      `Could not read client certificate "${join(dir, 'gone.pem')}": no such file`,
    );
  });

  it('TLS settings are ignored for unix hosts; bad hosts keep upstream\'s text', () => {
    expect(resolveEndpoint({ host: 'unix:///run/x.sock', tlsVerify: true, tlsCaCert: '/nope' }, noEnv)).toEqual({ kind: 'unix', uri: 'unix:///run/x.sock', path: '/run/x.sock' });
    expect(() => resolveEndpoint({ host: 'tcp://1.2.3:80' }, noEnv)).toThrow(InvalidHostError);
    expect(Object.fromEntries(requestFields({ kind: 'unix', uri: 'unix:///a', path: '/a' }, '/x/Y'))).not.toHaveProperty('tls_mode');
  });
});
