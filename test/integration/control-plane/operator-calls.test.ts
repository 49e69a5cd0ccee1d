/**
 * Issue 30: the operator role's live-call actions on /v1. A viewer may not hang up a call; an
 * operator key does, through the bridge's own call control, and the action is an audit row with
 * the key's name (never its secret).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_NUMBER, CALLER_NUMBER, startControlStack, waitFor, type Harness } from '../../helpers/control.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { testToken } from '../../helpers/tokens.js';
import type { TimelineEntry } from '../../../src/sim/twilio/index.js';

const ADMIN = testToken('control plane operator calls');
let db: TestDatabase;
let h: Harness;

beforeAll(async () => {
  db = await createTestDatabase();
  h = await startControlStack({
    steps: [
      { say: 'Hello, how can I help?', no_wait: true },
      { wait_for_caller: true, timeout_ms: 30_000 },
    ],
    env: { ADMIN_TOKEN: ADMIN, DATABASE_URL: db.url, SECRETS_KEY: randomBytes(32).toString('base64') },
  });
}, 30_000);

afterAll(async () => {
  await h?.close();
  await db?.drop();
});

const post = (path: string, key: string, body: unknown = {}) =>
  fetch(`${h.bridgeUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('live-call actions on /v1', () => {
  it('a viewer is refused; an operator hangs up the call, audited under its key name', async () => {
    const mk = async (name: string, role: string) =>
      ((await (await post('/v1/keys', ADMIN, { name, role })).json()) as { secret: string }).secret;
    const viewer = await mk('wall', 'viewer');
    const operator = await mk('desk-1', 'operator');
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 30_000 });
    let speaking = false;
    call.on('timeline', (e: TimelineEntry) => {
      if (e.who === 'agent' && e.what === 'speaking') speaking = true;
    });
    await waitFor(() => speaking, 10_000);
    expect((await post(`/v1/calls/${call.callSid}/hangup`, viewer)).status).toBe(403);
    expect((await post('/v1/calls/CA00000000000000000000000000000000/hangup', operator)).status).toBe(404);
    const r = await post(`/v1/calls/${call.callSid}/hangup`, operator);
    expect(r.status).toBe(202);
    await call.done;
    const audit = (await (
      await fetch(`${h.bridgeUrl}/v1/audit?action=call.hangup`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).json()) as { items: { key: { name: string }; target: string }[] };
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ key: { name: 'desk-1' }, target: `call:${call.callSid}` });
    expect(JSON.stringify(audit)).not.toContain(operator);
    expect(h.logs.text()).not.toContain(operator);
  });
});
