import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { CallResult } from '../../src/sim/twilio/types.js';
import { ACCOUNT_SID, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { Rng, fuzzSeed } from '../helpers/fuzz.js';
import { startMessage } from '../helpers/fuzz-frames.js';
import {
  ADMIN_TOKEN,
  hostileEngine,
  httpCase,
  openMedia,
  rawCase,
  rawRequest,
  runMediaConnection,
  send,
  trackResources,
} from '../helpers/fuzz-edges.js';

/**
 * The bridge under hostile input at every edge: the Twilio media socket, the engine socket and
 * every HTTP route. Whatever arrives, the process survives, nothing throws out of a handler,
 * every rejection is counted, no socket or session is left behind, and a real call running at
 * the same time is not disturbed. The seed is printed on failure (replay with FUZZ_SEED=...).
 */

const MEDIA_FRAMES = 100_000;
const MEDIA_CONNECTIONS = 40;
const HEALTHY_GREETING = 'Hello, how can I help?';

const escaped: unknown[] = [];
const onEscape = (err: unknown) => escaped.push(err);
/** The stack says where an escaped error came from; its message alone did not (CI saw only "number 0 is not a function"). */
const describeEscape = (err: unknown) => (err instanceof Error ? (err.stack ?? String(err)) : String(err));
beforeAll(() => {
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
});
afterAll(() => {
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** The built-in prototypes' own keys: hostile JSON merged carelessly anywhere would add to them. */
const PROTOTYPES = {
  Object: Object.prototype,
  Array: Array.prototype,
  Function: Function.prototype,
  Iterator: Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())) as object,
};
const keysOf = (o: object) => [...Object.getOwnPropertyNames(o), ...Object.getOwnPropertySymbols(o).map(String)].sort();
const pristine = Object.fromEntries(Object.entries(PROTOTYPES).map(([k, o]) => [k, keysOf(o)]));
afterEach(() => {
  for (const [name, o] of Object.entries(PROTOTYPES))
    expect(keysOf(o), `${name}.prototype was polluted`).toEqual(pristine[name]);
});

function seeded(): Rng {
  const seed = fuzzSeed();
  onTestFailed(() => console.error(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`));
  return new Rng(seed);
}

const closers = new WeakMap<Harness, () => Promise<void>>();

/** Closes the stack and checks that nothing created since `tracker` started holds a timer or a socket. */
async function closeWithoutLeaks(h: Harness, tracker: ReturnType<typeof trackResources>): Promise<void> {
  await closers.get(h)!();
  for (let i = 0; i < 60 && tracker.live().length > 0; i++) await tracker.sleep(50);
  const left = tracker.live();
  tracker.stop();
  expect(left).toEqual([]);
}

async function harness(opts: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  const h = await startHarness({
    env: { ADMIN_TOKEN },
    ...opts,
    tweak: (cfg) => {
      for (const a of cfg.file.agents) {
        a.greeting = HEALTHY_GREETING;
        // The subject is input parsing, not engine deadlines (bridge-engine-deadlines.test.ts): the
        // in-process engine, starved by the fuzz on a loaded machine, may take longer than the 8 s
        // reply deadline to synthesize its answer, and the bridge would rightly give up the call.
        a.engine = { ...a.engine, reply_timeout_ms: 60_000 };
      }
      cfg.file.numbers['+15550003333'] = { agent: 'sales' };
      opts.tweak?.(cfg);
    },
  });
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= h.close());
  closers.set(h, close);
  cleanups.push(close);
  return h;
}

function counterSum(
  h: Harness,
  name: 'rejected' | 'webhooksRejected',
  filter: (labels: Record<string, string | number>) => boolean = () => true,
): Promise<number> {
  return h.bridge.ctx.metrics[name]
    .get()
    .then((m) => m.values.filter((v) => filter(v.labels as Record<string, string>)).reduce((a, v) => a + v.value, 0));
}

function peak(pcm: Int16Array): number {
  let p = 0;
  for (let i = 0; i < pcm.length; i++) p = Math.max(p, Math.abs(pcm[i]!));
  return p;
}

/** A normal call placed through the simulator; it must complete as if nothing else happened. */
function healthyCall(h: Harness, to = '+15550001111') {
  return h.sim.placeCall({
    to,
    from: '+15557654321',
    // hang guards sized for an oversubscribed machine, where the fuzz slows everything 10-fold
    maxDurationMs: 150_000,
    caller: [
      { afterAgentSilenceMs: 400, agentSpeechWaitMs: 100_000, say: 'Hello, I am calling about my order.' },
      // long enough for the engine to take the caller's turn, without waiting for its answer
      { silenceMs: 1500 },
      { hangup: true },
    ],
  });
}

function expectHealthy(h: Harness, result: CallResult): void {
  expect(result.violations).toEqual([]);
  // what the bridge recorded of this call says why, when it was not the caller who hung up
  const rec = h.records.find((r) => r.callSid === result.callSid);
  const why = JSON.stringify({
    outcome: rec?.outcome,
    closes: rec?.engineCloses,
    verbs: rec?.verbs,
    timeline: result.timeline.slice(-12),
  });
  expect(result.endedBy, why.slice(0, 3000)).toBe('caller');
  expect(peak(result.heard)).toBeGreaterThan(1000);
  // A pre-connected session may have expired before a slow stream arrived (the call then got
  // a fresh one): every engine session of this call must be clean, and one heard the caller.
  const engineSide = h.engine.sessions.filter((s) => s.sessionLabel === `call-${result.callSid}`);
  expect(engineSide.flatMap((s) => s.violations)).toEqual([]);
  expect(engineSide.some((s) => s.transcripts.some((t) => t.role === 'user'))).toBe(true);
}

async function healthz(h: Harness): Promise<number> {
  const res = await fetch(`${h.bridgeUrl}/healthz`);
  return res.status;
}

// ---------------------------------------------------------------------------------------------

describe('fuzzing the bridge at its edges', () => {
  it(`survives ${MEDIA_FRAMES} random and mutated frames on signed media sockets while a real call goes on`, async () => {
    const rng = seeded();
    const tracker = trackResources();
    cleanups.push(() => tracker.stop());
    // The subject here is parsing: the per-socket rate limit (stream-flood.test.ts) is lifted so
    // that every frame is read.
    const h = await harness({
      tweak: (cfg) => {
        Object.assign(cfg.file.bridge.media_stream, {
          max_messages_per_s: 100_000,
          burst_messages: 1_000_000,
          max_bytes_per_s: 100_000_000,
          burst_bytes: 1_000_000_000,
        });
      },
    });
    const before = await counterSum(h, 'rejected', (l) => l.source === 'twilio');
    const t0 = performance.now();
    const call = healthyCall(h);

    const per = Math.ceil(MEDIA_FRAMES / MEDIA_CONNECTIONS);
    let sent = 0;
    let certainRejects = 0;
    // a few sockets at a time, as a busy Twilio edge would open them
    for (let i = 0; i < MEDIA_CONNECTIONS; i += 4) {
      const batch = await Promise.all(Array.from({ length: 4 }, () => runMediaConnection(h, rng, per)));
      for (const r of batch) {
        sent += r.sent;
        certainRejects += r.certainRejects;
      }
    }
    const fuzzMs = performance.now() - t0;
    const result = await call.done;
    const rejected = (await counterSum(h, 'rejected', (l) => l.source === 'twilio')) - before;
    console.info(
      `media fuzz: ${sent} frames on ${MEDIA_CONNECTIONS} sockets in ${Math.round(fuzzMs)} ms, ${rejected} rejected (${certainRejects} certainly invalid), ${h.records.length - 1} fuzz sessions; healthy call ${result.durationMs} ms`,
    );

    expect(sent).toBeGreaterThanOrEqual(MEDIA_FRAMES);
    expectHealthy(h, result);
    // every fuzz stream is gone: sessions, engine sessions, sockets
    await waitFor(() => h.bridge.ctx.registry.size === 0, 10_000);
    await waitFor(() => h.engine.sessions.every((s) => s.closed !== undefined), 5000);
    await waitFor(() => h.bridge.app.websocketServer.clients.size === 0, 5000);
    expect(rejected).toBeGreaterThanOrEqual(certainRejects);
    // reasons are metric labels: hostile input must not mint new ones
    const labels = (await h.bridge.ctx.metrics.rejected.get()).values.length;
    expect(labels).toBeLessThan(40);
    expect(await healthz(h)).toBe(200);
    expect(escaped.map(describeEscape)).toEqual([]);
    expect(h.logs.find(/listener threw|request failed/).slice(0, 3)).toEqual([]);
    await closeWithoutLeaks(h, tracker);
  }, 240_000); // bounded in frames, not in time: a hang detector sized for an oversubscribed machine

  it('refuses a start whose streamSid cannot be echoed safely (it crashed the process from a playback timer)', async () => {
    const h = await harness();
    const ws = await openMedia(h);
    const ids = { accountSid: ACCOUNT_SID, callSid: `CA${'e'.repeat(32)}`, streamSid: 'MZ"quoted"' };
    ws.send(JSON.stringify(startMessage(new Rng(1), ids)));
    await waitFor(() => h.logs.find('media stream refused').length > 0, 2000);
    expect(h.logs.find('media stream refused')[0]).toMatchObject({
      reason: 'invalid_start',
      detail: expect.stringMatching(/^invalid_start:streamSid/),
    });
    expect(h.bridge.ctx.registry.size).toBe(0); // no session, so nothing can ever try to echo it
    ws.close();
  });

  it('survives a hostile engine that answers configure with garbage, while another call goes on', async () => {
    const rng = seeded();
    const tracker = trackResources();
    cleanups.push(() => tracker.stop());
    const hostile = await hostileEngine(rng, 2500);
    cleanups.push(() => hostile.close());
    const h = await harness({
      tweak: (cfg) => {
        cfg.file.agents[0]!.engine.base_url = hostile.url;
      },
    });
    const healthy = healthyCall(h, '+15550003333'); // the sales agent, on the offline engine
    const victims = Array.from({ length: 8 }, (_, i) =>
      h.sim.placeCall({
        to: '+15550001111',
        from: `+1555765432${i}`,
        maxDurationMs: 90_000,
        caller: [
          { atMs: 600, dtmf: '12' },
          // hang up once the garbage has been delivered, not at a fixed time: on a loaded machine the
          // engine sends less in a fixed time, and the point is the bridge surviving all of it
          {
            atMs: 3000 + 500 * i,
            when: { ready: () => hostile.framesSent >= 9000, what: '9,000 hostile frames sent', waitMs: 60_000 },
            silenceMs: 20,
          },
          { hangup: true },
        ],
      }),
    );
    const results = await Promise.all(victims.map((c) => c.done));
    const result = await healthy.done;
    console.info(
      `hostile engine: ${hostile.framesSent} frames over ${hostile.sessions} engine sessions; outcomes ${h.records.map((r) => r.outcome).join(',')}`,
    );

    expect(hostile.framesSent).toBeGreaterThan(8000);
    for (const r of results) expect(r.durationMs).toBeLessThan(90_000); // every call ended, none hung
    expectHealthy(h, result);
    await waitFor(() => h.bridge.ctx.registry.size === 0, 10_000);
    await waitFor(() => hostile.open() === 0, 5000);
    expect(await counterSum(h, 'rejected', (l) => l.source === 'engine')).toBeGreaterThan(100);
    expect(h.records.length).toBeGreaterThanOrEqual(9);
    expect(await healthz(h)).toBe(200);
    expect(escaped.map(describeEscape)).toEqual([]);
    expect(h.logs.find(/listener threw|request failed/).slice(0, 3)).toEqual([]);
    await hostile.close();
    await closeWithoutLeaks(h, tracker);
  }, 240_000); // bounded in frames, not in time: a hang detector sized for an oversubscribed machine

  it('answers random bodies, content types and headers at every route with a 4xx, never a crash, while a real call goes on', async () => {
    const rng = seeded();
    const tracker = trackResources();
    cleanups.push(() => tracker.stop());
    // A pre-connected session whose stream never comes (fuzzed webhooks) ends quickly.
    const h = await harness({
      tweak: (cfg) => {
        cfg.file.bridge.preconnect.stream_timeout_ms = 1000;
      },
    });
    const base = new URL(h.bridgeUrl);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    cleanups.push(() => agent.destroy());
    const noKeepAlive = () => agent.destroy();
    const before = await counterSum(h, 'webhooksRejected');
    const statuses = new Map<number, number>();
    const fiveHundreds: string[] = [];
    const noAnswer: string[] = [];
    const t0 = performance.now();
    const cases = Array.from({ length: 3000 }, () => httpCase(rng, h.bridgeUrl));
    let call: ReturnType<typeof healthyCall> | undefined;
    for (let i = 0; i < cases.length; i += 32) {
      // Once the fuzz traffic has had this address refused many times over, Twilio calls in
      // from the same address (a shared proxy or egress): its signed requests must still work.
      if (i === 640) call = healthyCall(h);
      const batch = cases.slice(i, i + 32);
      const res = await Promise.all(batch.map((c) => send(agent, base, c)));
      res.forEach((r, j) => {
        const c = batch[j]!;
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === -1)
          noAnswer.push(`${c.method} ${c.path} ${JSON.stringify(c.headers).slice(0, 200)}: ${r.body}`);
        if (r.status >= 500 && !(c.path === '/readyz' && r.status === 503))
          fiveHundreds.push(`${c.method} ${c.path} → ${r.status} ${r.body.slice(0, 100)}`);
      });
    }
    const raw = await Promise.all(Array.from({ length: 200 }, () => rawRequest(Number(base.port), rawCase(rng))));
    console.info(
      `http fuzz: ${cases.length} requests + ${raw.length} raw in ${Math.round(performance.now() - t0)} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );

    expect(fiveHundreds).toEqual([]);
    expect(noAnswer.slice(0, 3)).toEqual([]); // every request got an answer
    for (const r of raw) if (r) expect(r).toMatch(/^HTTP\/1\.1 [1-4]\d\d /);
    expect((await counterSum(h, 'webhooksRejected')) - before).toBeGreaterThan(500);
    expectHealthy(h, await call!.done);
    // sessions pre-connected by signed fuzz webhooks expire (no stream ever comes)
    await waitFor(() => h.bridge.ctx.registry.size === 0, 10_000);
    await waitFor(() => h.engine.sessions.every((s) => s.closed !== undefined), 5000);
    expect(await healthz(h)).toBe(200);
    expect(escaped.map(describeEscape)).toEqual([]);
    expect(h.logs.find(/listener threw|request failed/).slice(0, 3)).toEqual([]);
    noKeepAlive();
    await closeWithoutLeaks(h, tracker);
  }, 240_000); // bounded in frames, not in time: a hang detector sized for an oversubscribed machine
});
