import { describe, expect, it } from 'vitest';
import { endRevoked, roleNeeded, signIn, stillInForce } from '../../../src/console/access.js';
import { ConsoleSessions } from '../../../src/console/auth.js';
import type { ConsoleKey, ConsoleKeys } from '../../../src/control-plane/console-keys.js';

const ADMIN = 'admin-token-for-access-test';
const VIEWER: ConsoleKey = {
  id: '00000000-0000-4000-8000-000000000001',
  name: 'wall',
  role: 'viewer',
  revocable: true,
};
const DESK: ConsoleKey = {
  id: '00000000-0000-4000-8000-000000000002',
  name: 'desk',
  role: 'operator',
  revocable: true,
};
const BOOT: ConsoleKey = {
  id: '00000000-0000-4000-8000-00000000000b',
  name: 'bootstrap',
  role: 'admin',
  revocable: false,
};

/** A key store of fixed secrets; `inForce` answers from `live`, and `down` makes every call throw. */
function keyStore(live: Set<string>, o: { down?: boolean } = {}): ConsoleKeys & { asked: string[][] } {
  const bySecret = new Map<string, ConsoleKey>([
    ['wall-secret', VIEWER],
    ['desk-secret', DESK],
    [ADMIN, BOOT],
  ]);
  const asked: string[][] = [];
  return {
    asked,
    authenticate: async (s) => {
      if (o.down) throw new Error('ECONNREFUSED');
      const k = bySecret.get(s);
      return k && live.has(k.id) ? k : undefined;
    },
    inForce: async (ids) => {
      if (o.down) throw new Error('ECONNREFUSED');
      asked.push([...ids]);
      return new Set(ids.filter((id) => live.has(id)));
    },
    audit: async () => undefined,
  };
}

describe('console access', () => {
  it('reads and signing out need a session only; acting on a call (or any other write) an operator, reloading an admin', () => {
    expect(roleNeeded('GET', '/console/api/calls')).toBeUndefined();
    expect(roleNeeded('GET', '/console/api/history')).toBeUndefined();
    expect(roleNeeded('POST', '/console/logout')).toBeUndefined();
    expect(roleNeeded('POST', `/console/api/calls/CA${'0'.repeat(32)}/hangup`)).toBe('operator');
    expect(roleNeeded('POST', `/console/api/calls/CA${'0'.repeat(32)}/transfer`)).toBe('operator');
    expect(roleNeeded('POST', '/console/api/config/reload')).toBe('admin');
    // default-deny: a POST nobody named needs an operator
    expect(roleNeeded('POST', '/console/api/something-new')).toBe('operator');
    expect(roleNeeded('DELETE', `/console/api/calls/CA${'0'.repeat(32)}`)).toBe('operator');
  });

  it('without the control plane only ADMIN_TOKEN signs in, as an admin', async () => {
    expect(await signIn(ADMIN, ADMIN, undefined)).toEqual({ role: 'admin', actor: 'admin token' });
    expect(await signIn('desk-secret', ADMIN, undefined)).toBeUndefined();
    expect(await signIn(ADMIN, undefined, undefined)).toBeUndefined();
  });

  it("with it, a key in force signs in with its role and name; ADMIN_TOKEN is the bootstrap key; a database that does not answer is 'unavailable'", async () => {
    const keys = keyStore(new Set([VIEWER.id, DESK.id, BOOT.id]));
    expect(await signIn('wall-secret', ADMIN, keys)).toEqual({
      role: 'viewer',
      actor: 'wall',
      key: { id: VIEWER.id, name: 'wall', revocable: true },
    });
    expect(await signIn(ADMIN, ADMIN, keys)).toMatchObject({
      role: 'admin',
      actor: 'admin token',
      key: { revocable: false },
    });
    expect(await signIn('wrong', ADMIN, keys)).toBeUndefined();
    expect(await signIn('wall-secret', ADMIN, keyStore(new Set()))).toBeUndefined();
    expect(await signIn('wall-secret', ADMIN, keyStore(new Set(), { down: true }))).toBe('unavailable');
  });

  it('a revocable key is checked at each request; the bootstrap key and ADMIN_TOKEN sessions are not', async () => {
    const live = new Set([VIEWER.id]);
    const keys = keyStore(live);
    const sessions = new ConsoleSessions();
    const wall = sessions.create('viewer', 'wall', { id: VIEWER.id, name: 'wall', revocable: true });
    const boot = sessions.create('admin', 'admin token', { id: BOOT.id, name: 'bootstrap', revocable: false });
    expect(await stillInForce(wall, keys)).toBe(true);
    live.delete(VIEWER.id);
    expect(await stillInForce(wall, keys)).toBe(false);
    expect(await stillInForce(boot, keys)).toBe(true);
    expect(await stillInForce(sessions.create(), undefined)).toBe(true);
    expect(keys.asked).toEqual([[VIEWER.id], [VIEWER.id]]);
    await expect(stillInForce(wall, keyStore(live, { down: true }))).rejects.toThrow();
  });

  it("a heard revocation ends that key's sessions only; a sweep after a reconnection ends every key no longer in force", async () => {
    const live = new Set([VIEWER.id, DESK.id]);
    const keys = keyStore(live);
    const sessions = new ConsoleSessions();
    const ended: string[] = [];
    sessions.onEnd = (id) => ended.push(id);
    const wall1 = sessions.create('viewer', 'wall', { id: VIEWER.id, name: 'wall', revocable: true });
    const wall2 = sessions.create('viewer', 'wall', { id: VIEWER.id, name: 'wall', revocable: true });
    const desk = sessions.create('operator', 'desk', { id: DESK.id, name: 'desk', revocable: true });
    const admin = sessions.create();
    await endRevoked(sessions, keys, VIEWER.id);
    expect(ended.sort()).toEqual([wall1.id, wall2.id].sort());
    expect(sessions.get(desk.id)).toBeDefined();

    live.delete(DESK.id); // revoked while the feed was away: no id heard
    await endRevoked(sessions, keys, undefined);
    expect(sessions.get(desk.id)).toBeUndefined();
    expect(sessions.get(admin.id)).toBeDefined();
    expect(keys.asked).toEqual([[DESK.id]]);
  });
});
