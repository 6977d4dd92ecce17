// Tenant-entered hosts: every non-public address form is refused unless the operator
// flag is on; public ones pass; names are judged by what they resolve to.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { AppError } from '../src/shared/errors.ts';
import { isNonPublicAddress, normaliseHost, outboundLookup, resolveOutboundHost } from '../src/shared/outbound-host.ts';

const off = { allowPrivate: false };
const on = { allowPrivate: true };

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).status).toBeGreaterThanOrEqual(400);
    expect((e as AppError).status).toBeLessThan(500);
    return (e as AppError).code;
  }
}

const NON_PUBLIC = [
  '127.0.0.1',
  '127.1.2.3',
  '0.0.0.0',
  '10.0.0.5',
  '172.16.0.1',
  '172.31.255.254',
  '192.168.1.1',
  '169.254.169.254', // cloud metadata
  '100.64.0.1', // CGNAT
  '224.0.0.1',
  '255.255.255.255',
  '::1',
  '::',
  '[::1]',
  'fe80::1',
  'fc00::1',
  'fd12:3456::1',
  'ff02::1',
  '::ffff:127.0.0.1', // IPv4-mapped loopback
  '::ffff:10.0.0.1',
  '::ffff:7f00:1',
  '64:ff9b::a00:1', // NAT64 of 10.0.0.1
  '2002:7f00:1::1', // 6to4 of 127.0.0.1
];

describe('resolveOutboundHost', () => {
  it.each(NON_PUBLIC)('refuses %s with 400 host_not_allowed, allows it with the flag', async (host) => {
    expect(await codeOf(resolveOutboundHost(host, off))).toBe('host_not_allowed');
    const r = await resolveOutboundHost(host, on);
    expect(r.private).toBe(true);
    expect(r.addresses.length).toBe(1);
  });

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '[2001:4860:4860::8888]'])(
    'allows the public address %s without the flag',
    async (host) => {
      const r = await resolveOutboundHost(host, off);
      expect(r.private).toBe(false);
      expect(r.addresses[0]!.address).toBe(host.replace(/[[\]]/g, ''));
    },
  );

  it('judges a name by what it resolves to: localhost is refused', async () => {
    expect(await codeOf(resolveOutboundHost('localhost', off))).toBe('host_not_allowed');
    expect(await codeOf(resolveOutboundHost('LOCALHOST.', off))).toBe('host_not_allowed');
    const r = await resolveOutboundHost('localhost', on);
    expect(r.addresses.every((a) => isNonPublicAddress(a.address))).toBe(true);
  });

  it('refuses a name with any private answer, accepts one with only public answers', async () => {
    const lookup = async (h: string) =>
      h === 'mixed.example'
        ? [
            { address: '93.184.216.34', family: 4 },
            { address: '10.1.2.3', family: 4 },
          ]
        : [{ address: '93.184.216.34', family: 4 }];
    expect(await codeOf(resolveOutboundHost('mixed.example', { allowPrivate: false, lookup }))).toBe(
      'host_not_allowed',
    );
    const ok = await resolveOutboundHost('smtp.example.com', { allowPrivate: false, lookup });
    expect(ok).toEqual({
      host: 'smtp.example.com',
      addresses: [{ address: '93.184.216.34', family: 4 }],
      private: false,
    });
  });

  it('a name that resolves to nothing is host_unresolvable', async () => {
    const lookup = async () => {
      throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    expect(await codeOf(resolveOutboundHost('nowhere.invalid', { allowPrivate: false, lookup }))).toBe(
      'host_unresolvable',
    );
  });

  it.each(['', ' ', 'http://example.com', 'example.com:25', 'exa mple.com', 'a/b', 'user@example.com', '-bad.com'])(
    'refuses the malformed host %j with invalid_host',
    async (host) => {
      expect(() => normaliseHost(host)).toThrow(AppError);
      expect(await codeOf(resolveOutboundHost(host, on))).toBe('invalid_host');
    },
  );
});

describe('outboundLookup (connection-time check)', () => {
  it('an HTTP agent using it cannot reach loopback without the flag, and can with it', async () => {
    const server = http.createServer((_req, res) => res.end('reached'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const get = (allowPrivate: boolean) =>
      new Promise<string>((resolve, reject) => {
        const agent = new http.Agent({ lookup: outboundLookup({ allowPrivate }) as never });
        http
          .get({ host: 'localhost', port, agent, family: 4 }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      });
    try {
      await expect(get(false)).rejects.toMatchObject({ code: 'host_not_allowed' });
      expect(await get(true)).toBe('reached');
    } finally {
      server.close();
    }
  });
});

describe('configuration', () => {
  it('CAPTO_ALLOW_PRIVATE_HOSTS is off by default and parses on/off', () => {
    expect(loadConfig({}).allowPrivateHosts).toBe(false);
    expect(loadConfig({ CAPTO_ALLOW_PRIVATE_HOSTS: 'on' }).allowPrivateHosts).toBe(true);
    expect(loadConfig({ CAPTO_ALLOW_PRIVATE_HOSTS: 'off' }).allowPrivateHosts).toBe(false);
    expect(() => loadConfig({ CAPTO_ALLOW_PRIVATE_HOSTS: 'maybe' })).toThrow(/CAPTO_ALLOW_PRIVATE_HOSTS/);
  });

  it('GOOGLE_API_BASE defaults to Google and is trimmed of trailing slashes', () => {
    expect(loadConfig({}).google.apiBase).toBe('https://www.googleapis.com');
    expect(loadConfig({ GOOGLE_API_BASE: 'http://127.0.0.1:9999/' }).google.apiBase).toBe('http://127.0.0.1:9999');
    expect(() => loadConfig({ GOOGLE_API_BASE: 'not a url' })).toThrow(/GOOGLE_API_BASE/);
  });
});
