import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseOrExit, usageError } from '../../cli-args.js';
import { CALL } from '../../cli-commands.js';
import { writeWav } from '../../audio/index.js';
import { startTwilioSimulator } from './index.js';
import { formatSummary, formatTimeline } from './timeline.js';
import { followBridgeCall, type BridgeFeed } from './bridge-feed.js';
import type { CallerScript, HumanBehaviour } from './types.js';

/**
 * `omni-phone-bridge call`: places one simulated Twilio call against a running bridge and
 * prints its timeline. The bridge must share the auth token (TWILIO_AUTH_TOKEN) and, for call
 * control, point TWILIO_API_BASE at this command's fake REST API (--rest-port).
 */

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

const defaultIo: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
};

function int(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new Error(`--${name} must be a non-negative integer (got "${v}")`);
  return n;
}

export async function runCallCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const args = parseOrExit(CALL, argv, io);
  if (args.exit !== undefined) return args.exit;
  const values = args.values as Record<string, string | undefined> & { say?: string[]; json?: boolean };
  const authToken = io.env.TWILIO_AUTH_TOKEN;
  if (!authToken) {
    io.err(
      "omni-phone-bridge call: TWILIO_AUTH_TOKEN is not set: the simulator signs requests with the bridge's auth token\n",
    );
    return 2;
  }
  let hangupAfter: number | undefined;
  let maxDuration: number;
  let restPort: number;
  let talkMs: number;
  let dtmfAfterMs: number;
  try {
    hangupAfter = values['hangup-after'] !== undefined ? int(values['hangup-after'], 'hangup-after', 0) : undefined;
    maxDuration = int(values['max-duration'], 'max-duration', 120_000);
    restPort = int(values['rest-port'], 'rest-port', 4010);
    talkMs = int(values['talk-ms'], 'talk-ms', 2000);
    dtmfAfterMs = int(values['dtmf-after-silence'], 'dtmf-after-silence', 2000);
  } catch (err) {
    return usageError(CALL, (err as Error).message, io);
  }

  const caller: CallerScript = [];
  for (const text of values.say ?? []) caller.push({ afterAgentSilenceMs: 700, say: text });
  if (values.wav) caller.push({ afterAgentSilenceMs: 700, wav: values.wav });
  if (values.dtmf) caller.push({ afterAgentSilenceMs: dtmfAfterMs, dtmf: values.dtmf });

  const human: HumanBehaviour = { answer: values.human as HumanBehaviour['answer'], talkMs };
  const common = {
    bridgeUrl: values.bridge!,
    publicUrl: values['public-url'] ?? io.env.PUBLIC_URL ?? values.bridge!,
    accountSid: values['account-sid'] ?? io.env.TWILIO_ACCOUNT_SID ?? `AC${'0'.repeat(32)}`,
    authToken,
    human,
  };
  let sim;
  try {
    sim = await startTwilioSimulator({ ...common, restPort });
  } catch (err) {
    if (restPort === 0) throw err;
    io.err(`port ${restPort} is busy (${(err as Error).message}); the fake REST API uses another port\n`);
    sim = await startTwilioSimulator({ ...common, restPort: 0 });
  }
  if (!values.json) io.out(`fake Twilio REST API at ${sim.restBase} (set TWILIO_API_BASE to it for call control)\n`);
  let feed: BridgeFeed | undefined;
  try {
    const call = sim.placeCall({ to: values.to!, from: values.from!, caller, maxDurationMs: maxDuration });
    const placedAt = Date.now();
    if (!values.json) call.on('timeline', (e) => io.out(`${formatTimeline([e])}\n`));
    // The agent's side (its words, tools with arguments and results, verbs) is the bridge's: its console feed.
    if (!values.json && io.env.ADMIN_TOKEN) {
      const print = (what: string) =>
        io.out(`${formatTimeline([{ atMs: Date.now() - placedAt, who: 'agent', what }])}\n`);
      feed = await followBridgeCall(
        {
          bridgeUrl: common.bridgeUrl,
          publicUrl: common.publicUrl,
          adminToken: io.env.ADMIN_TOKEN,
          callSid: call.callSid,
          print,
        },
        io.err,
      );
    } else if (!values.json) {
      io.out("(set ADMIN_TOKEN to the bridge's to see the agent's words, tool calls and verbs here)\n");
    }
    if (hangupAfter !== undefined) {
      const t = setTimeout(() => call.hangup(), hangupAfter);
      void call.done.finally(() => clearTimeout(t));
    }
    const result = await call.done;
    if (feed) {
      await new Promise((r) => setTimeout(r, 300)); // the bridge's last events (the call's end) arrive
      feed.stop();
    }
    if (values.record) {
      await mkdir(dirname(values.record), { recursive: true });
      await writeFile(values.record, writeWav(result.heard, 8000));
    }
    if (values.json) {
      // The PCM arrays stay out (JSON writes a typed array as {"0":…}: megabytes); their lengths say enough.
      const { heard, received, ...rest } = result;
      const ms = (pcm: Int16Array) => Math.round(pcm.length / 8);
      io.out(
        `${JSON.stringify({ ...rest, heardMs: ms(heard), receivedMs: ms(received), restRequests: sim.restRequests })}\n`,
      );
    } else {
      io.out(`\n${formatSummary(result).join('\n')}\n`);
      if (values.record) io.out(`what the caller heard: ${values.record}\n`);
    }
    return result.violations.length === 0 ? 0 : 1;
  } finally {
    feed?.stop();
    await sim.close();
  }
}
