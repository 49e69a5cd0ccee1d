/**
 * The offline stack for the bridge's own integration tests (test/integration/bridge-*.test.ts,
 * preconnect.test.ts): two small agents with short, distinct greetings, an offline engine whose
 * voice is a tone (pitch per agent, length per text) so that what the caller heard can be
 * measured exactly, and a raw-Twilio target for hand-crafted messages.
 */
import { parseScenario, type EngineOptions } from '../../src/sim/engine/index.js';
import type { LoadedConfig } from '../../src/config/loader.js';
import type { FleetStore } from '../../src/store/fleet-store.js';
import type { HumanBehaviour } from '../../src/sim/twilio/index.js';
import { toneVoice } from './audio.js';
import { ACCOUNT_SID, AUTH_TOKEN, startHarness, type Harness } from './harness.js';
import type { TwilioTarget } from './raw-twilio.js';

export const SUPPORT_NUMBER = '+15550001111';
export const SALES_NUMBER = '+15550002222';
export const CALLER = '+15557654321';
export const FRONT_DESK = '+15550100200';

export const GREETING = { support: 'Hello from support.', sales: 'Hi, sales here.' } as const;
/** Pitch of each agent's voice; any other text is spoken at OTHER_HZ. */
export const VOICE_HZ = { support: 500, sales: 1200 } as const;
export const OTHER_HZ = 800;
export const MS_PER_CHAR = 20;
/** How long the tone voice speaks `text`. */
export const voiceMs = (text: string): number => text.length * MS_PER_CHAR;

export const testVoice = toneVoice((text) => ({
  freq: text === GREETING.support ? VOICE_HZ.support : text === GREETING.sales ? VOICE_HZ.sales : OTHER_HZ,
  ms: voiceMs(text),
}));

export interface BridgeStackOptions {
  /** offline engine script; without it the engine is the echo agent */
  steps?: unknown[];
  outputRate?: number;
  engine?: Omit<EngineOptions, 'scenario'>;
  /** merged over each agent */
  support?: Record<string, unknown>;
  sales?: Record<string, unknown>;
  /** merged over the `bridge` settings */
  bridge?: Record<string, unknown>;
  env?: Record<string, string>;
  human?: HumanBehaviour;
  tweak?: (cfg: LoadedConfig) => void;
  /** the bridge's fleet store (default: in-process) */
  store?: FleetStore;
}

export function bridgeTestConfig(
  o: Pick<BridgeStackOptions, 'support' | 'sales' | 'bridge'> = {},
): Record<string, unknown> {
  return {
    default_agent: 'support',
    agents: [
      {
        id: 'support',
        persona: 'You are Ada, the support test agent.',
        greeting: GREETING.support,
        transfer: { targets: [{ name: 'front_desk', kind: 'number', value: FRONT_DESK }], default: 'front_desk' },
        fallback: { action: 'hangup', message: 'Technical difficulties, goodbye.' },
        end_call: { max_wait_for_goodbye_ms: 3000 },
        ...(o.support ?? {}),
      },
      { id: 'sales', persona: 'You are Sam, the sales test agent.', greeting: GREETING.sales, ...(o.sales ?? {}) },
    ],
    numbers: { [SUPPORT_NUMBER]: { agent: 'support' }, [SALES_NUMBER]: { agent: 'sales' } },
    bridge: { preconnect: { enabled: true, stream_timeout_ms: 5000 }, ...(o.bridge ?? {}) },
  };
}

export interface BridgeStack extends Harness {
  /** for RawStream / postVoice: the bridge's URL (also its PUBLIC_URL) and the credentials */
  target: TwilioTarget;
}

export async function startBridgeStack(o: BridgeStackOptions = {}): Promise<BridgeStack> {
  const scenario = o.steps
    ? parseScenario({ name: 'bridge-test', steps: o.steps, ...(o.outputRate ? { output_rate: o.outputRate } : {}) })
    : undefined;
  const h = await startHarness({
    configText: JSON.stringify(bridgeTestConfig(o)),
    engine: {
      tts: testVoice,
      ...(scenario ? { scenario } : {}),
      ...(o.outputRate && !scenario ? { outputRate: o.outputRate } : {}),
      ...(o.engine ?? {}),
    },
    human: o.human ?? { answer: 'answer', ringMs: 200, talkMs: 300 },
    ...(o.env ? { env: o.env } : {}),
    ...(o.tweak ? { tweak: o.tweak } : {}),
    ...(o.store ? { store: o.store } : {}),
  });
  return { ...h, target: { bridgeUrl: h.bridgeUrl, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID } };
}

/** Closes every stack (and anything else) a test opened, even when it failed half-way. */
export function janitor(): { track<T extends { close(): unknown }>(x: T): T; closeAll(): Promise<void> } {
  const open: { close(): unknown }[] = [];
  return {
    track(x) {
      open.push(x);
      return x;
    },
    async closeAll() {
      while (open.length) await open.pop()!.close();
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
