import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionGuard, sourceKey, type ConnectionRefusal } from '../../../src/server/security/connection-guard.js';
import { connectionLimits, openFileLimit } from '../../../src/server/security/http-limits.js';
import { bridgeSchema } from '../../../src/config/schema.js';

class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(readonly remoteAddress: string) {
    super();
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    queueMicrotask(() => this.emit('close'));
  }
}

function setup(max: number, reserved: number, perSource: number) {
  const server = new EventEmitter();
  const refused: [ConnectionRefusal, string][] = [];
  const guard = new ConnectionGuard({ max, reserved, perSource }, (r, s) => refused.push([r, s]));
  guard.attach(server as unknown as Server);
  const open = (addr: string) => {
    const s = new FakeSocket(addr);
    server.emit('connection', s);
    return s as FakeSocket & Socket;
  };
  return { guard, refused, open };
}

describe('ConnectionGuard', () => {
  it('refuses an address over its per-source share of unproven connections', () => {
    const { refused, open } = setup(100, 10, 3);
    const socks = Array.from({ length: 5 }, () => open('10.0.0.1'));
    expect(socks.map((s) => s.destroyed)).toEqual([false, false, false, true, true]);
    expect(refused).toEqual([
      ['per_source', '10.0.0.1'],
      ['per_source', '10.0.0.1'],
    ]);
    expect(open('10.0.0.2').destroyed).toBe(false);
  });

  it('when unproven connections fill max − reserved, a newcomer displaces the oldest of the largest holder', () => {
    const { guard, refused, open } = setup(10, 4, 0);
    const a = [open('10.0.0.1'), open('10.0.0.1'), open('10.0.0.1'), open('10.0.0.1')];
    const b = [open('10.0.0.2'), open('10.0.0.2')];
    expect(guard.unprovenCount).toBe(6);
    const twilio = open('10.9.9.9');
    expect(twilio.destroyed).toBe(false);
    expect(a[0]!.destroyed).toBe(true);
    expect(b.some((s) => s.destroyed)).toBe(false);
    expect(refused).toEqual([['displaced', '10.0.0.1']]);
  });

  it('proven connections are never displaced and may use the reserve; with all proven, a newcomer is refused', () => {
    const { guard, refused, open } = setup(4, 2, 0);
    const media = [open('10.0.0.1'), open('10.0.0.1')];
    for (const m of media) guard.promote(m);
    const more = [open('10.0.0.3'), open('10.0.0.4')];
    for (const m of more) guard.promote(m);
    expect(guard.provenCount).toBe(4);
    const late = open('10.0.0.5');
    expect(late.destroyed).toBe(true);
    expect([...media, ...more].some((s) => s.destroyed)).toBe(false);
    expect(refused).toEqual([['full', '10.0.0.5']]);
  });

  it('a closed connection gives its room back', async () => {
    const { guard, open } = setup(100, 10, 2);
    const s = open('10.0.0.1');
    open('10.0.0.1');
    s.destroy();
    await new Promise((r) => setImmediate(r));
    expect(guard.unprovenCount).toBe(1);
    expect(open('10.0.0.1').destroyed).toBe(false);
  });
});

describe('sources and limits', () => {
  it('counts an IPv4-mapped address as its IPv4, and an IPv6 address by its /64', () => {
    expect(sourceKey('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(sourceKey('10.1.2.3')).toBe('10.1.2.3');
    expect(sourceKey('2001:db8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(sourceKey('2001:db8:0:1:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:0:1::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey(undefined)).toBeUndefined();
  });

  it('lowers max_connections to half of what the descriptor limit leaves, and the reserve with it', () => {
    const h = bridgeSchema.parse({}).http;
    expect(connectionLimits(h, undefined, false)).toEqual({ max: 2048, reserved: 256, perSource: 32 });
    expect(connectionLimits(h, 1_048_576, false)).toMatchObject({ max: 2048, reserved: 256 });
    expect(connectionLimits(h, 400, false)).toMatchObject({ max: 168, reserved: 42, loweredFrom: 2048 });
    expect(connectionLimits(h, 400, true).perSource).toBe(0);
  });

  it('reads the soft open-file limit', () => {
    const text =
      'Limit Soft Limit Hard Limit Units\nMax open files            256                  512                  files\n';
    expect(openFileLimit(text)).toBe(256);
    expect(
      openFileLimit('Max open files            unlimited            unlimited            files\n'),
    ).toBeUndefined();
  });

  it('refuses a headers deadline longer than the request deadline, and a reserve as large as the cap', () => {
    expect(() => bridgeSchema.parse({ http: { headers_timeout_ms: 20_000 } })).toThrow(/headers_timeout_ms/);
    expect(() => bridgeSchema.parse({ http: { max_connections: 100, reserved_connections: 100 } })).toThrow(
      /reserved_connections/,
    );
    expect(() => bridgeSchema.parse({ http: { request_timout_ms: 1 } })).toThrow();
  });
});
