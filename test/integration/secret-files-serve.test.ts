/**
 * Secrets from files, for real: the built bridge (`node dist/main.js serve`) started with
 * TWILIO_AUTH_TOKEN_FILE pointing at a file (a Docker or Kubernetes secret, with the newline an
 * editor leaves) and no TWILIO_AUTH_TOKEN takes a simulated call signed with that token, end to
 * end; a request signed with any other token is refused; the token is in none of its output.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../../src/sim/stack.js';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { startBridgeProcess, type BridgeProcess } from '../helpers/bridge-process.js';
import { testToken } from '../helpers/tokens.js';

let dir: string;
let b: BridgeProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opb-secret-file-'));
  const tokenFile = join(dir, 'twilio_auth_token');
  writeFileSync(tokenFile, `${SIM_AUTH_TOKEN}\n`, { mode: 0o600 });
  b = await startBridgeProcess({
    config: {
      default_agent: 'echo',
      agents: [{ id: 'echo', persona: 'You repeat what you hear.' }],
      numbers: { '+15550001111': { agent: 'echo' } },
    },
    adminToken: testToken('secret files admin'),
    // the variable itself unset (empty is unset): the file is the only source of the token
    env: { TWILIO_AUTH_TOKEN: '', TWILIO_AUTH_TOKEN_FILE: tokenFile },
  });
}, 120_000);

afterAll(async () => {
  await b?.close();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

const form = (p: Record<string, string>) => new URLSearchParams(p).toString();

describe('TWILIO_AUTH_TOKEN_FILE on the built bridge', () => {
  it('a call signed with the token from the file is taken: the webhook answers, the stream runs, the call ends normally', async () => {
    const call = b.sim.placeCall({ to: '+15550001111', from: '+15557654321', maxDurationMs: 4000 });
    const result = await call.done;
    expect(result.violations).toEqual([]);
    expect(result.streams.length).toBeGreaterThanOrEqual(1);
    expect(result.heard.length).toBeGreaterThan(0);
    const ready = await fetch(`${b.url}/readyz`);
    expect(ready.status).toBe(200); // the token is there: no "no_twilio_auth_token"
  }, 60_000);

  it('the attacker who signs with another token is refused (403), and the token is in none of the output', async () => {
    const url = `${b.url}/twilio/voice`;
    const params = {
      CallSid: `CA${'7'.repeat(32)}`,
      AccountSid: SIM_ACCOUNT_SID,
      From: '+15557654321',
      To: '+15550001111',
      CallStatus: 'ringing',
      Direction: 'inbound',
    };
    for (const token of ['a-guessed-token', `${SIM_AUTH_TOKEN}\n`, SIM_AUTH_TOKEN.slice(0, -1)]) {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signTwilioRequest(token, url, params),
        },
        body: form(params),
      });
      expect(res.status, JSON.stringify(token)).toBe(403);
    }
    // and the right one, on the same request, is accepted
    const ok = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signTwilioRequest(SIM_AUTH_TOKEN, url, params),
      },
      body: form(params),
    });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('<Stream');
    expect(b.output()).not.toContain(SIM_AUTH_TOKEN);
  }, 60_000);
});
