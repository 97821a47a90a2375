import { describe, expect, it } from 'vitest';
import { hugePageSize, maskProxy, prettyName, proxyEnv } from './info';

describe('maskProxy (isula info prints proxies with the credentials masked)', () => {
  it.each<[string | undefined, string]>([
    ['http://user:pass@proxy:3128', 'http://xxxx:xxxx@proxy:3128'],
    ['https://user:pass@proxy.example.com:8443/', 'https://xxxx:xxxx@proxy.example.com:8443/'],
    ['socks5://u:p@10.0.0.1:1080', 'socks5://xxxx:xxxx@10.0.0.1:1080'],
    ['http://user:@proxy:3128', 'http://xxxx:xxxx@proxy:3128'],
    ['user:pass@host:8080', 'xxxx:xxxx@host:8080'],
    ['user:pass@host', 'xxxx:xxxx@host'],
    ['http://proxy:3128', 'http://proxy:3128'],
    ['http://proxy.example.com:3128/path', 'http://proxy.example.com:3128/path'],
    ['proxy:3128', 'proxy:3128'],
    ['localhost,127.0.0.1,.example.com', 'localhost,127.0.0.1,.example.com'],
    ['', ''],
    [undefined, ''],
  ])('%j → %j', (value, want) => {
    expect(maskProxy(value)).toBe(want);
  });

  it('never leaves the password in the output', () => {
    for (const v of ['http://alice:s3cr3t@p:1', 'alice:s3cr3t@p:1', 'https://alice:s3cr3t@p']) {
      expect(maskProxy(v)).not.toContain('s3cr3t');
      expect(maskProxy(v)).not.toContain('alice');
    }
  });
});

describe('proxyEnv', () => {
  it.each<[NodeJS.ProcessEnv, string]>([
    [{ HTTP_PROXY: 'http://upper:1' }, 'http://upper:1'],
    [{ http_proxy: 'http://lower:1' }, 'http://lower:1'],
    [{ HTTP_PROXY: 'http://upper:1', http_proxy: 'http://lower:1' }, 'http://upper:1'],
    [{}, ''],
  ])('%j', (env, want) => {
    expect(proxyEnv(env, 'HTTP_PROXY')).toBe(want);
  });
});

describe('prettyName (os-release PRETTY_NAME)', () => {
  it.each<[string, string]>([
    ['NAME="openEuler"\nVERSION="22.03 (LTS-SP1)"\nPRETTY_NAME="openEuler 22.03 (LTS-SP1)"\nID="openEuler"\n', 'openEuler 22.03 (LTS-SP1)'],
    ['PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n', 'Debian GNU/Linux 12 (bookworm)'],
    ['PRETTY_NAME=Alpine\n', 'Alpine'],
    ["PRETTY_NAME='Single Quoted 1.0'\n", 'Single Quoted 1.0'],
    ['PRETTY_NAME="Trailing"  \n', 'Trailing'],
    ['NAME="NoPretty"\n', 'Linux'],
    ['', 'Linux'],
    ['XPRETTY_NAME="not this"\n', 'Linux'],
  ])('%j → %j', (text, want) => {
    expect(prettyName(text)).toBe(want);
  });
});

describe('hugePageSize (/proc/meminfo)', () => {
  it.each<[string, string]>([
    ['MemTotal:       16309124 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\nHugetlb:               0 kB\n', '2048kB'],
    ['Hugepagesize:    1048576 kB\n', '1048576kB'],
    ['Hugepagesize:       64 kB', '64kB'],
    ['MemTotal:       16309124 kB\n', ''],
    ['', ''],
  ])('%j → %j', (text, want) => {
    expect(hugePageSize(text)).toBe(want);
  });
});
