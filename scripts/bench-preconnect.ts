/**
 * Pre-connect benchmark (`npm run bench:preconnect`), issue 7.
 *
 * The offline engine greets as soon as it is configured and answers the upgrade after a set
 * delay (0, 150, 600 ms: a near, a distant, a very distant engine). Each call is driven by hand
 * like Twilio drives it: a signed voice webhook, then — after a webhook → stream gap spread
 * evenly over 300–800 ms, as seen on real calls — the signed media socket with `connected` and
 * `start`, then caller silence every 20 ms. Measured per call:
 *   - start → first agent media: from sending the `start` message to receiving the first agent
 *     `media` frame from the bridge (what the caller perceives as dead air after answering);
 *   - engine time before the stream: how long the engine session was open before `start`
 *     (what pre-connect costs in engine seconds).
 * Pre-connect on vs off, side by side. Target with pre-connect: ≤ 30 ms at every delay (it can
 * only hide the engine's delay when the gap is longer than it: such calls are shown apart).
 *
 * Usage: tsx scripts/bench-preconnect.ts [calls=10]
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG_PATH } from '../src/config/loader.js';
import { silentLogger } from '../src/observability/logger.js';
import { startStack, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../src/sim/stack.js';
import type { TtsResult } from '../src/speech/tts.js';
import { RawStream, postVoice, sid } from '../test/helpers/raw-twilio.js';

const CALLS = Math.max(1, Number(process.argv[2] ?? 10));
const DELAYS = [0, 150, 600];
const GAP_MIN = 300;
const GAP_MAX = 800;
const TARGET_MS = 30;

/** The engine's voice: a 1 s tone at 16 kHz, rendered at once (TTS time is not what we measure). */
async function instantVoice(): Promise<TtsResult> {
  const rate = 16000;
  const samples = new Int16Array(rate);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / rate));
  return { samples, rate };
}

interface CallSample {
  gapMs: number;
  firstMediaMs: number;
  engineBeforeStreamMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runConfig(delayMs: number, preconnect: boolean): Promise<CallSample[]> {
  const stack = await startStack({
    engine: { connectDelayMs: delayMs, tts: instantVoice },
    configText: readFileSync(DEFAULT_CONFIG_PATH, 'utf8'),
    tweak: (cfg) => {
      cfg.file.bridge.preconnect.enabled = preconnect;
    },
    logger: silentLogger(),
  });
  const target = { bridgeUrl: stack.bridgeUrl, authToken: SIM_AUTH_TOKEN, accountSid: SIM_ACCOUNT_SID };
  const samples: CallSample[] = [];
  try {
    // Call -1 warms the process up (JIT, first sockets) and is not counted.
    for (let i = -1; i < CALLS; i++) {
      const gapMs = CALLS === 1 || i < 0 ? GAP_MIN : GAP_MIN + ((GAP_MAX - GAP_MIN) * i) / (CALLS - 1);
      const callSid = sid('CA');
      const hookAt = performance.now();
      const hook = await postVoice(target, { callSid, to: '+15550001111' });
      if (hook.status !== 200) throw new Error(`voice webhook answered ${hook.status}`);
      await sleep(Math.max(0, hookAt + gapMs - performance.now()));
      const raw = await RawStream.open(target);
      raw.echoMarks = true;
      const startWall = Date.now();
      raw.start(callSid, { agent: 'support' });
      const stopPacing = raw.pace();
      const first = await raw.waitFor((m) => m.event === 'media', 10_000);
      const engineRec = stack.engine.sessions.find((s) => s.sessionLabel === `call-${callSid}`);
      if (i >= 0)
        samples.push({
          gapMs,
          firstMediaMs: first.at - raw.startedAt,
          engineBeforeStreamMs: engineRec ? Math.max(0, startWall - engineRec.startedAt) : 0,
        });
      stopPacing();
      raw.stop();
      raw.close();
      // one call at a time: the next starts on a quiet bridge and engine
      const t0 = performance.now();
      while (stack.bridge.ctx.registry.size > 0 && performance.now() - t0 < 3000) await sleep(10);
    }
  } finally {
    await stack.close();
  }
  return samples;
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '—');

async function main(): Promise<void> {
  console.log(
    `pre-connect benchmark: ${CALLS} calls per row, webhook → stream gap ${GAP_MIN}–${GAP_MAX} ms (evenly spread), offline engine greeting at once\n`,
  );
  const rows: string[][] = [];
  const verdicts: string[] = [];
  for (const delay of DELAYS) {
    const results: Record<string, CallSample[]> = {};
    for (const on of [true, false]) {
      results[on ? 'on' : 'off'] = await runConfig(delay, on);
    }
    for (const mode of ['on', 'off']) {
      const s = results[mode]!;
      const first = s.map((x) => x.firstMediaMs);
      const covered = s.filter((x) => x.gapMs > delay + 50).map((x) => x.firstMediaMs);
      rows.push([
        `${delay} ms`,
        mode,
        f1(pct(first, 0.5)),
        f1(pct(first, 0.9)),
        f1(Math.max(...first)),
        covered.length ? `${f1(pct(covered, 0.5))} (${covered.length})` : '—',
        f1(s.reduce((a, x) => a + x.engineBeforeStreamMs, 0) / s.length),
      ]);
    }
    const on = results.on!.map((x) => x.firstMediaMs);
    verdicts.push(
      `delay ${delay} ms: pre-connect p50 ${f1(pct(on, 0.5))} ms ${pct(on, 0.5) <= TARGET_MS ? '≤' : '>'} ${TARGET_MS} ms target`,
    );
  }
  const head = [
    'engine delay',
    'pre-connect',
    'p50 ms',
    'p90 ms',
    'max ms',
    'p50 ms, gap > delay (n)',
    'engine ms before stream / call',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  console.log('time from the media `start` message to the first agent media frame sent to Twilio');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('');
  for (const v of verdicts) console.log(v);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
