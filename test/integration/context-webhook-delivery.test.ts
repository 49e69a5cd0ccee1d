import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ContextWebhooks, type ContextOutcome } from '../../src/control/context-webhook.js';
import { buildTransferContext, type TransferContext } from '../../src/control/transfer-context.js';
import { parseConfigText } from '../../src/config/loader.js';
import type { AgentConfig } from '../../src/config/schema.js';
import { verifyBridgeSignature } from '../../src/tools/signing.js';

/**
 * The context webhook's delivery against real HTTP servers on loopback: signed as tool webhooks
 * are, bounded per attempt, tried again after a 5xx, a timeout or a network error (never after a
 * 4xx), and `deliver` never waits for any of it. The receiver's verify refuses a forged, altered
 * or replayed delivery.
 */

const SECRET = 'context-hook-secret-0123456789abcdef';
const ENV_NAME = 'TOOL_SECRET_CONTEXT_HOOK';
const CALLER = '+15557654321';

interface Seen {
  body: string;
  headers: http.IncomingHttpHeaders;
}

const open: { close(): void }[] = [];
afterEach(() => {
  while (open.length) open.pop()!.close();
});

/** A receiver on loopback answering each request with the next of `answers` (the last repeats). */
async function receiver(answers: (number | 'hang')[]): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      const a = answers[Math.min(seen.length - 1, answers.length - 1)]!;
      if (a === 'hang') return; // never answers
      res.writeHead(a, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push({
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/desk/context`, seen };
}

function agentWith(url: string, extra: Record<string, unknown> = {}): AgentConfig {
  const file = parseConfigText(
    JSON.stringify({
      default_agent: 'support',
      agents: [
        {
          id: 'support',
          persona: 'p',
          transfer: {
            targets: [{ name: 'desk', kind: 'number', value: '+15550100200' }],
            context_webhook: { url, signing_secret_env: ENV_NAME, timeout_ms: 400, retries: 2, ...extra },
          },
        },
      ],
      bridge: { tool_allow_hosts: ['127.0.0.1'] },
    }),
  );
  return file.agents[0]!;
}

function context(id = 'a3c1e0f4-0000-4000-8000-000000000001'): TransferContext {
  return buildTransferContext({
    contextId: id,
    callSid: 'CA' + '1'.repeat(32),
    agent: 'support',
    from: CALLER,
    to: '+15550001111',
    publicUrl: 'https://bridge.example.com',
    mode: 'warm',
    target: { name: 'desk', kind: 'number', value: '+15550100200' },
    usedDefault: false,
    reason: 'a billing question',
    collected: new Map([['account_number', '482913']]),
    turns: [{ role: 'user', text: 'My card is 4111 1111 1111 1111', atMs: 1200 }],
    tools: [],
  });
}

function sender(o: { resolver?: (h: string) => Promise<{ address: string; family: number }[]> } = {}) {
  const outcomes: ContextOutcome[] = [];
  let retries = 0;
  const hooks = new ContextWebhooks({
    env: { [ENV_NAME]: SECRET },
    allowHosts: ['127.0.0.1'],
    logger: pino({ level: 'silent' }),
    count: (_agent, outcome) => outcomes.push(outcome),
    countRetry: () => retries++,
    backoffMs: 20,
    ...(o.resolver ? { resolver: o.resolver } : {}),
  });
  open.push(hooks);
  return { hooks, outcomes, retries: () => retries };
}

describe('context webhook delivery', () => {
  it('delivers the context signed as tool webhooks are, its id as the idempotency key', async () => {
    const r = await receiver([200]);
    const { hooks, outcomes } = sender();
    const ctx = context();
    hooks.deliver(agentWith(r.url), ctx);
    await hooks.idle();
    expect(outcomes).toEqual(['delivered']);
    expect(r.seen).toHaveLength(1);
    const got = r.seen[0]!;
    expect(JSON.parse(got.body)).toEqual(ctx);
    expect(got.headers['idempotency-key']).toBe(ctx.context_id);
    expect(got.headers['content-type']).toBe('application/json');
    expect(
      verifyBridgeSignature({ header: got.headers['x-bridge-signature'], rawBody: got.body, secret: SECRET }),
    ).toEqual({
      ok: true,
    });
    // the payload carries no secret and no full phone number
    expect(got.body).not.toContain(SECRET);
    expect(got.body).not.toContain(CALLER.slice(1));
    expect(got.body).not.toContain('4111 1111');
    expect(ctx.call.from_masked).toBe('•••4321');
  });

  it('a 5xx is tried again after a backoff with the same body and key; a later 2xx is delivered', async () => {
    const r = await receiver([503, 502, 200]);
    const { hooks, outcomes, retries } = sender();
    hooks.deliver(agentWith(r.url), context());
    await hooks.idle();
    expect(outcomes).toEqual(['delivered']);
    expect(retries()).toBe(2);
    expect(r.seen).toHaveLength(3);
    expect(new Set(r.seen.map((s) => s.body)).size).toBe(1);
    expect(new Set(r.seen.map((s) => s.headers['idempotency-key'])).size).toBe(1);
  });

  it('a 4xx is final: the receiver refused this body, sending it again changes nothing', async () => {
    const r = await receiver([400]);
    const { hooks, outcomes } = sender();
    hooks.deliver(agentWith(r.url), context());
    await hooks.idle();
    expect(outcomes).toEqual(['refused']);
    expect(r.seen).toHaveLength(1);
  });

  it('a receiver that never answers: deliver returns at once, each attempt is cut at its timeout, then it gives up', async () => {
    const r = await receiver(['hang']);
    const { hooks, outcomes } = sender();
    const t0 = Date.now();
    hooks.deliver(agentWith(r.url, { timeout_ms: 300, retries: 1 }), context());
    // returned synchronously: nothing was sent yet, nothing counted
    expect(outcomes).toEqual([]);
    expect(r.seen).toHaveLength(0);
    await hooks.idle();
    expect(outcomes).toEqual(['failed']);
    expect(r.seen).toHaveLength(2);
    // both attempts were cut (a hang guard, not a latency bound: 2 × 300 ms, far under 10 s)
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('a receiver that is down (connection refused) is tried again, then given up', async () => {
    const r = await receiver([200]);
    open.pop()!.close(); // the port is free again: nothing listens
    await new Promise((res) => setTimeout(res, 50));
    const { hooks, outcomes, retries } = sender();
    hooks.deliver(agentWith(r.url), context());
    await hooks.idle();
    expect(outcomes).toEqual(['failed']);
    expect(retries()).toBe(2);
  });

  it('a receiver that answers garbage (not HTTP) is a network failure, tried again, never a crash', async () => {
    let conns = 0;
    const server = net.createServer((s) => {
      conns++;
      s.on('data', () => s.end('\u0000\u00ffNOT HTTP AT ALL\r\n\r\n'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    open.push({ close: () => server.close() });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const { hooks, outcomes } = sender();
    hooks.deliver(agentWith(url, { retries: 1 }), context());
    await hooks.idle();
    expect(outcomes).toEqual(['failed']);
    expect(conns).toBe(2);
  });

  it('a host whose DNS answer is internal is refused before any connection (the tool webhooks’ address guard)', async () => {
    let asked = 0;
    // the attacker's name resolves to this machine's loopback, where the receiver would answer
    const r = await receiver([200]);
    const port = new URL(r.url).port;
    const { hooks, outcomes } = sender({
      resolver: async () => {
        asked++;
        return [{ address: '127.0.0.1', family: 4 }];
      },
    });
    hooks.deliver(agentWith(`https://desk.attacker.example:${port}/hook`), context());
    await hooks.idle();
    expect(outcomes).toEqual(['blocked']);
    expect(asked).toBe(1); // not tried again: the address is the answer
    expect(r.seen).toHaveLength(0);
  });

  it('stopping the bridge ends a delivery in flight', async () => {
    const r = await receiver(['hang']);
    const { hooks, outcomes } = sender();
    hooks.deliver(agentWith(r.url, { timeout_ms: 5000 }), context());
    await new Promise((res) => setTimeout(res, 100));
    hooks.close();
    await hooks.idle();
    expect(outcomes).toEqual(['aborted']);
  });
});

describe("the receiver's verify (what a desktop runs)", () => {
  it('refuses a forged signature, an altered body, a stripped header and a replay past the tolerance', async () => {
    const r = await receiver([200]);
    const { hooks } = sender();
    hooks.deliver(agentWith(r.url), context());
    await hooks.idle();
    const { body, headers } = r.seen[0]!;
    const header = headers['x-bridge-signature'] as string;
    const t = Number(/t=(\d+)/.exec(header)![1]);
    // the attacker signs with a secret of their own
    const forged = header.replace(/v1=[0-9a-f]{64}/, `v1=${'ab'.repeat(32)}`);
    expect(verifyBridgeSignature({ header: forged, rawBody: body, secret: SECRET })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyBridgeSignature({ header: undefined, rawBody: body, secret: SECRET })).toMatchObject({ ok: false });
    // a captured delivery sent again ten minutes later
    expect(verifyBridgeSignature({ header, rawBody: body, secret: SECRET, nowSec: t + 600 })).toEqual({
      ok: false,
      reason: 'stale',
    });
    // any change to the body (another caller, another account) breaks the signature
    fc.assert(
      fc.property(fc.nat({ max: body.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const b = Buffer.from(body);
        b[at] = b[at]! ^ flip;
        return !verifyBridgeSignature({ header, rawBody: b, secret: SECRET, nowSec: t }).ok;
      }),
      { seed: 33, numRuns: 200 },
    );
  });
});
