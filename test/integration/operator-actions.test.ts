/**
 * An operator's hang-up and transfer (admin API, console) with the agent mid-reply: they act at
 * once. The caller's playback is cleared and the REST request reaches (fake) Twilio while only the
 * first moments of a 10 s reply were heard — not after the reply, as the agent's own end_call and
 * transfer would (they wait for the agent's words). The call record says who asked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CallHandle, CallResult, TimelineEntry } from '../../src/sim/twilio/index.js';
import { consoleLogin } from '../helpers/console.js';
import {
  AGENT_NUMBER,
  CALLER_NUMBER,
  callPath,
  stackJanitor,
  startControlStack,
  voiceMs,
  voiceRuns,
  waitFor,
  type Harness,
} from '../helpers/control.js';
import { testToken } from '../helpers/tokens.js';

const ADMIN = testToken('operator actions admin');
/** 250 characters: 10 s of the scripted agent's voice, far longer than any prompt action takes */
const LONG_REPLY =
  `${'Let me read you the full terms and conditions of your plan, clause by clause. '.repeat(4)}`.slice(0, 250);
/** at most this much of the reply is heard before the REST request (the old code: ~6 s, the goodbye wait) */
const MAX_HEARD_MS = 2000;
/** hang guard: the call is over this long after the operator's request */
const HANG_GUARD_MS = 5000;

const stacks = stackJanitor();
afterEach(() => stacks.closeAll());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stack(): Promise<Harness> {
  return stacks.track(
    await startControlStack({
      // The reply streams while the engine waits for the caller: the agent is mid-reply for 10 s.
      steps: [
        { say: LONG_REPLY, no_wait: true },
        { wait_for_caller: true, timeout_ms: 30_000 },
      ],
      env: { ADMIN_TOKEN: ADMIN },
    }),
  );
}

/** A call whose caller has been hearing the agent's long reply for a moment. */
async function midReply(h: Harness): Promise<CallHandle> {
  const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 30_000 });
  let speaking = false;
  call.on('timeline', (e: TimelineEntry) => {
    if (e.who === 'agent' && e.what === 'speaking') speaking = true;
  });
  await waitFor(() => speaking, 10_000);
  await sleep(300);
  return call;
}

/**
 * Runs the operator's request and reports, from the fake Twilio's side, what happened: the ms from
 * the request to the REST request's arrival (logged, not asserted), the timeline and what was heard.
 */
async function act(
  call: CallHandle,
  restWhat: (what: string) => boolean,
  request: () => Promise<Response>,
): Promise<{ status: number; body: Record<string, unknown>; result: CallResult; rest: TimelineEntry; ms: number }> {
  let restAt: number | undefined;
  call.on('timeline', (e: TimelineEntry) => {
    if (restAt === undefined && e.who === 'twilio' && restWhat(e.what)) restAt = performance.now();
  });
  const t0 = performance.now();
  const res = await request();
  const body = (await res.json()) as Record<string, unknown>;
  const result = await Promise.race([
    call.done,
    sleep(HANG_GUARD_MS).then(() => {
      throw new Error(`the call was not over ${HANG_GUARD_MS} ms after the operator's request`);
    }),
  ]);
  const rest = result.timeline.find((e) => e.who === 'twilio' && restWhat(e.what));
  if (!rest || restAt === undefined) throw new Error('no REST request reached Twilio');
  return { status: res.status, body, result, rest, ms: Math.round(restAt - t0) };
}

/** ms of the agent's voice the caller heard before `atMs` (call time). */
function heardBefore(result: CallResult, atMs: number): number {
  return voiceRuns(result.heard).reduce((sum, r) => sum + Math.max(0, Math.min(r.endMs, atMs) - r.startMs), 0);
}

/** The bridge's `clear` came before the REST request, and the rest of the reply was never heard. */
function expectCutAt(result: CallResult, rest: TimelineEntry): void {
  const clearAt = result.timeline.findIndex((e) => e.who === 'bridge' && e.what.startsWith('clear'));
  expect(clearAt, 'a clear was sent to the stream').toBeGreaterThanOrEqual(0);
  expect(clearAt).toBeLessThan(result.timeline.indexOf(rest));
  const heard = heardBefore(result, rest.atMs);
  expect(heard).toBeGreaterThan(0); // the request came mid-reply
  expect(heard).toBeLessThan(MAX_HEARD_MS);
  expect(heardBefore(result, Number.POSITIVE_INFINITY)).toBeLessThan(MAX_HEARD_MS); // nothing after it
  expect(voiceMs(LONG_REPLY)).toBeGreaterThan(4 * MAX_HEARD_MS);
}

const adminPost = (h: Harness, path: string, body?: unknown) =>
  fetch(`${h.bridgeUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });

describe("an operator's hang-up with the agent mid-reply", () => {
  it('admin API: cuts the reply (clear) and hangs up at once; the record says operator_hangup by admin_api', async () => {
    const h = await stack();
    const call = await midReply(h);
    const r = await act(
      call,
      (w) => w === 'REST update: Status=completed',
      () => adminPost(h, `/admin/calls/${call.callSid}/hangup`),
    );
    console.log(`[latency] admin hang-up mid-reply: request → REST Status=completed at Twilio ${r.ms} ms`);

    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: 'hanging_up' });
    expect(r.result.endedBy).toBe('rest-completed');
    expect(h.sim.restRequests).toHaveLength(1);
    expect(h.sim.restRequests[0]).toMatchObject({ path: callPath(call.callSid), form: { Status: 'completed' } });
    expectCutAt(r.result, r.rest);
    await waitFor(() => h.records.length === 1);
    const record = h.records[0]!;
    expect(record.outcome).toBe('operator_hangup');
    expect(record.operator).toMatchObject({ action: 'hangup', by: 'admin_api' });
    expect(record.verbs.map((v) => `${v.verb}:${v.result}`)).toContain('operator_hangup:admin_api');
    expect(record.verbs.some((v) => v.verb === 'end_call')).toBe(false); // not the agent's end_call
    expect(h.logs.find('operator hang-up: the agent is cut off, hanging up now')[0]).toMatchObject({ by: 'admin_api' });
  });

  it('console: the same, recorded as asked by the console', async () => {
    const h = await stack();
    const { cookie, csrf } = await consoleLogin(h.bridgeUrl, ADMIN);
    const call = await midReply(h);
    const r = await act(
      call,
      (w) => w === 'REST update: Status=completed',
      () =>
        fetch(`${h.bridgeUrl}/console/api/calls/${call.callSid}/hangup`, {
          method: 'POST',
          headers: { cookie, origin: h.bridgeUrl, 'x-csrf-token': csrf, 'content-type': 'application/json' },
          body: '{}',
        }),
    );
    console.log(`[latency] console hang-up mid-reply: request → REST Status=completed at Twilio ${r.ms} ms`);

    expect(r.status).toBe(202);
    expectCutAt(r.result, r.rest);
    await waitFor(() => h.records.length === 1);
    expect(h.records[0]).toMatchObject({ outcome: 'operator_hangup', operator: { action: 'hangup', by: 'console' } });
  });
});

describe("an operator's transfer with the agent mid-reply", () => {
  it('admin API: cuts the reply (clear) and redirects the call to the target at once', async () => {
    const h = await stack();
    const call = await midReply(h);
    const r = await act(
      call,
      (w) => w.startsWith('REST update: <Dial>'),
      () => adminPost(h, `/admin/calls/${call.callSid}/transfer`, { destination: 'front_desk' }),
    );
    console.log(`[latency] admin transfer mid-reply: request → REST <Dial> update at Twilio ${r.ms} ms`);

    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: 'transferring' });
    expect(h.sim.restRequests[0]).toMatchObject({ path: callPath(call.callSid) });
    expect(String(h.sim.restRequests[0]!.form.Twiml)).toContain('<Dial');
    expectCutAt(r.result, r.rest);
    expect(r.result.dialed).toEqual([expect.objectContaining({ result: 'completed' })]);
    await waitFor(() => h.records.length === 1);
    const record = h.records[0]!;
    expect(record.outcome).toBe('transferred');
    expect(record.operator).toMatchObject({ action: 'transfer', by: 'admin_api' });
    expect(record.verbs.map((v) => `${v.verb}:${v.result}`)).toEqual(
      expect.arrayContaining(['operator_transfer:admin_api', 'transfer_to_human:started']),
    );
  });
});
