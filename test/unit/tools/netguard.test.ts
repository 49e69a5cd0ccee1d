import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, classifyIp, guardedLookup, normalizeHost, parseIp } from '../../../src/tools/netguard.js';
import { isToolExecutionError } from '../../../src/tools/errors.js';

describe('classifyIp: IPv4', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'metadata'],
    ['169.254.1.1', 'link_local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.100.100.200', 'cgnat'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.10', 'documentation'],
    ['198.51.100.1', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
  ])('refuses %s as %s', (ip, reason) => {
    expect(classifyIp(ip)).toBe(reason);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '169.253.0.1',
    '11.0.0.1',
    '192.169.0.1',
    '223.255.255.255',
  ])('allows public %s', (ip) => {
    expect(classifyIp(ip)).toBeNull();
  });
});

describe('classifyIp: IPv6', () => {
  it.each([
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    ['febf:ffff::1', 'link_local'],
    ['fc00::1', 'unique_local'],
    ['fd12:3456::1', 'unique_local'],
    ['fd00:ec2::254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['fec0::1', 'private'],
    ['2001:db8::1', 'documentation'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:c0a8:101::1', 'private'],
    // Teredo: server 65.54.227.120 (public), client stored inverted: ~3fff:fdd2 = 192.0.2.45
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'documentation'],
    ['2001:0:7f00:1:8000:63bf:3fff:fdd2', 'loopback'], // a loopback Teredo server
    ['::ffff:0:7f00:1', 'loopback'], // SIIT ::ffff:0:0:0/96
    ['::ffff:0:10.0.0.1', 'private'],
    ['::ffff:0:a9fe:a9fe', 'metadata'],
    ['100::1', 'reserved'],
  ])('refuses %s as %s', (ip, reason) => {
    expect(classifyIp(ip)).toBe(reason);
  });

  it.each([
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
    '2a00:1450:4001::1',
    '::8.8.8.8', // IPv4-compatible: judged by the address inside, like every embedding
    '::ffff:0:808:808',
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7', // Teredo, server and client (8.8.8.8) public
  ])('allows public %s', (ip) => {
    expect(classifyIp(ip)).toBeNull();
  });

  it('marks non-addresses invalid', () => {
    expect(classifyIp('example.com')).toBe('invalid');
    expect(classifyIp('1.2.3')).toBe('invalid');
    expect(classifyIp('')).toBe('invalid');
  });

  it('parses compressed, full and dotted forms to the same bytes', () => {
    const a = parseIp('::ffff:192.168.0.1');
    const b = parseIp('0:0:0:0:0:ffff:c0a8:1');
    expect(a && Buffer.from(a).toString('hex')).toBe('00000000000000000000ffffc0a80001');
    expect(b && Buffer.from(b).toString('hex')).toBe('00000000000000000000ffffc0a80001');
    expect(Buffer.from(parseIp('1:2:3:4:5:6:7.8.9.10')!).toString('hex')).toBe('0001000200030004000500060708090a');
    expect(Buffer.from(parseIp('1::')!).toString('hex')).toBe('00010000000000000000000000000000');
  });
});

describe('checkWebhookUrl', () => {
  const none = new Set<string>();
  it('accepts https to a public name', () => {
    expect(checkWebhookUrl('https://api.example.com/tools/x', none)).toMatchObject({
      ok: true,
      host: 'api.example.com',
      allowListed: false,
    });
  });

  it.each([
    ['http://api.example.com/x', 'scheme must be https'],
    ['ftp://api.example.com/x', 'scheme must be https'],
    ['not a url', 'not a valid URL'],
    ['https://user:pw@api.example.com/', 'credentials in the URL are not allowed'],
    ['https://127.0.0.1/x', 'address is loopback'],
    ['https://2130706433/x', 'address is loopback'], // decimal form of 127.0.0.1
    ['https://0x7f.1/x', 'address is loopback'],
    ['https://[::1]/x', 'address is loopback'],
    ['https://[::ffff:169.254.169.254]/', 'address is metadata'],
    ['https://169.254.169.254/latest/meta-data', 'address is metadata'],
    ['https://10.0.0.5/', 'address is private'],
    ['https://100.64.1.1/', 'address is cgnat'],
    ['https://localhost/x', 'address is loopback'],
    ['https://api.localhost./x', 'address is loopback'],
  ])('refuses %s', (url, reason) => {
    expect(checkWebhookUrl(url, none)).toEqual({ ok: false, reason });
  });

  it('lets allow-listed dev hosts use http and loopback', () => {
    const allow = new Set(['127.0.0.1', 'localhost', '::1'].map(normalizeHost));
    expect(checkWebhookUrl('http://127.0.0.1:8080/x', allow)).toMatchObject({ ok: true, allowListed: true });
    expect(checkWebhookUrl('http://[::1]:8080/x', allow)).toMatchObject({ ok: true, allowListed: true });
    expect(checkWebhookUrl('http://LOCALHOST:8080/x', allow)).toMatchObject({ ok: true, allowListed: true });
    expect(checkWebhookUrl('http://10.0.0.1/x', allow)).toEqual({ ok: false, reason: 'scheme must be https' });
  });
});

describe('guardedLookup', () => {
  const run = (addrs: Array<{ address: string; family: number }>, options: { all?: boolean; family?: number } = {}) =>
    new Promise<{ err: unknown; address: unknown; family?: number }>((resolve) => {
      guardedLookup(async () => addrs)('api.example.com', options, (err, address, family) =>
        resolve({ err, address, family }),
      );
    });

  it('hands back the checked public address', async () => {
    const r = await run([{ address: '93.184.216.34', family: 4 }]);
    expect(r).toEqual({ err: null, address: '93.184.216.34', family: 4 });
  });

  it('returns all checked addresses when asked (autoSelectFamily)', async () => {
    const list = [
      { address: '2606:4700::1', family: 6 },
      { address: '93.184.216.34', family: 4 },
    ];
    expect((await run(list, { all: true })).address).toEqual(list);
    expect((await run(list, { family: 4 })).address).toBe('93.184.216.34');
  });

  it.each([
    [[{ address: '127.0.0.1', family: 4 }], 'address is loopback'],
    [[{ address: '169.254.169.254', family: 4 }], 'address is metadata'],
    [
      [
        { address: '93.184.216.34', family: 4 },
        { address: '10.0.0.1', family: 4 },
      ],
      'address is private',
    ],
    [[{ address: '::1', family: 6 }], 'address is loopback'],
  ])('refuses a name resolving to %j', async (addrs, reason) => {
    const r = await run(addrs);
    expect(isToolExecutionError(r.err)).toBe(true);
    expect((r.err as { output: unknown }).output).toEqual({ error: 'blocked_url', message: reason });
  });

  it('passes resolver failures through and treats an empty answer as not found', async () => {
    const failing = await new Promise<unknown>((resolve) =>
      guardedLookup(async () => {
        throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
      })('x.invalid', {}, (err) => resolve(err)),
    );
    expect((failing as { code: string }).code).toBe('ENOTFOUND');
    expect(((await run([])).err as { code: string }).code).toBe('ENOTFOUND');
  });
});

describe('classifyIp: every IPv6 form that embeds an IPv4 address is judged by that address', () => {
  const hex = (b: readonly number[]) => [((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16)];
  const inverted = (b: readonly number[]) => hex(b.map((x) => x ^ 0xff));
  const TEREDO_SERVER = [65, 54, 227, 120]; // public
  const PUBLIC_CLIENT = [8, 8, 8, 8];
  /** Each embedding of the IPv4 address `b`, as text. */
  function embeddings(b: readonly number[]): string[] {
    const dotted = b.join('.');
    const [hi, lo] = hex(b);
    const forms = [
      `::ffff:${dotted}`, // IPv4-mapped
      `::ffff:${hi}:${lo}`,
      `0:0:0:0:0:ffff:${hi}:${lo}`,
      `::FFFF:${hi}:${lo}`.toUpperCase(),
      `[::ffff:${hi}:${lo}]`,
      `::ffff:0:${dotted}`, // SIIT
      `::ffff:0:${hi}:${lo}`,
      `0:0:0:0:ffff:0:${hi}:${lo}`,
      `64:ff9b::${dotted}`, // NAT64
      `64:ff9b::${hi}:${lo}`,
      `2002:${hi}:${lo}::1`, // 6to4
      `2002:${hi}:${lo}:ab:cd::`,
      `2001:0:${hex(TEREDO_SERVER).join(':')}:8000:63bf:${inverted(b).join(':')}`, // Teredo client
      `2001:0:${hi}:${lo}:8000:63bf:${inverted(PUBLIC_CLIENT).join(':')}`, // Teredo server
    ];
    // IPv4-compatible, except 0.0.0.0 and 0.0.0.1: those spell IPv6's own :: and ::1
    if (!(b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3]! <= 1)) forms.push(`::${dotted}`, `::${hi}:${lo}`);
    return forms;
  }

  const octet = fc.integer({ min: 0, max: 255 });
  // Addresses drawn from every range of the policy as well as anywhere: a uniform draw would
  // seldom land in a /24.
  const interesting = fc.constantFrom(
    [127, 0, 0, 1],
    [169, 254, 169, 254],
    [10, 1, 2, 3],
    [100, 64, 0, 1],
    [192, 168, 0, 1],
    [172, 16, 5, 4],
    [0, 0, 0, 0],
    [0, 0, 0, 1],
    [192, 0, 2, 45],
    [224, 0, 0, 1],
    [255, 255, 255, 255],
    [8, 8, 8, 8],
  );
  const anyV4 = fc.oneof(
    fc.tuple(octet, octet, octet, octet),
    interesting,
    fc.tuple(fc.constantFrom(10, 127, 169, 172, 192, 100, 0, 224, 240), octet, octet, octet),
  );

  it('classifies each embedding the same as the IPv4 address itself', () => {
    fc.assert(
      fc.property(anyV4, (b) => {
        const want = classifyIp(b.join('.'));
        for (const form of embeddings(b)) expect([form, classifyIp(form)]).toEqual([form, want]);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a webhook URL whose host is an embedded internal address', () => {
    for (const host of ['[::ffff:0:7f00:1]', '[::ffff:0:a9fe:a9fe]', '[2001:0:4136:e378:8000:63bf:80ff:fffe]']) {
      const r = checkWebhookUrl(`https://${host}/hook`, new Set());
      expect(r.ok, host).toBe(false);
    }
  });
});
