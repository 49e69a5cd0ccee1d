import type { SimCallPort } from './call-port.js';
import { loadWav, noise, speak } from './sounds.js';
import type { CallerAction, CallerScript } from './types.js';

/**
 * Runs a caller script against a live call. Speech is synthesised (and WAVs loaded) up front,
 * so "say" starts when the script says, not after TTS. Between actions the caller is silent,
 * but the stream keeps carrying that silence: Twilio never stops sending audio.
 */

/** afterAgentSilenceMs gives up waiting for the agent to speak after this long (unless the step says). */
const AGENT_SPEECH_WAIT_MS = 15_000;
const DTMF_GAP_MS = 150;

async function prepare(action: CallerAction): Promise<Int16Array | null | undefined> {
  if (action.say !== undefined) return speak(action.say);
  if (action.wav !== undefined) return loadWav(action.wav);
  if (action.noiseMs !== undefined) return noise(action.noiseMs);
  return undefined;
}

/** Waits until something listens (a stream, or a Gather for DTMF); false if the call ended. */
async function whenListening(call: SimCallPort, dtmf: boolean): Promise<boolean> {
  while (!call.listening(dtmf)) {
    if (!(await call.clock.sleep(20))) return false;
  }
  return true;
}

/**
 * Waits for the other side to speak (something audible after `sinceFrames`) and then be quiet
 * for `quietMs`. If nothing is said within AGENT_SPEECH_WAIT_MS, the caller goes ahead.
 */
async function whenAgentSilent(
  call: SimCallPort,
  quietMs: number,
  sinceFrames: number,
  waitMs = AGENT_SPEECH_WAIT_MS,
): Promise<boolean> {
  const start = call.clock.tickMs();
  for (;;) {
    const spoke = call.audibleFrames > sinceFrames;
    const now = call.clock.tickMs();
    if (spoke && now - call.lastAudibleMs >= quietMs) return true;
    if (!spoke && now - start >= Math.max(waitMs, quietMs)) {
      call.note('caller', `waited ${Math.round((now - start) / 1000)} s for the agent to speak; going on`);
      return true;
    }
    if (!(await call.clock.sleep(20))) return false;
  }
}

/** `when` steps give up after this long. */
const WHEN_WAIT_MS = 30_000;

async function whenReady(
  call: SimCallPort,
  ready: () => boolean,
  waitMs: number,
): Promise<'ready' | 'timeout' | 'ended'> {
  const start = call.clock.tickMs();
  while (!ready()) {
    if (call.clock.tickMs() - start >= waitMs) return 'timeout';
    if (!(await call.clock.sleep(20))) return 'ended';
  }
  return 'ready';
}

async function drained(call: SimCallPort): Promise<boolean> {
  while (call.callerAudio.length > 0) {
    if (!(await call.clock.sleep(20))) return false;
  }
  return true;
}

export async function runScript(call: SimCallPort, script: CallerScript): Promise<void> {
  const prepared = script.map((a) =>
    prepare(a).catch((err: Error) => {
      call.note('caller', `cannot prepare audio: ${err.message}`);
      return null;
    }),
  );
  let framesBefore = call.audibleFrames;
  for (let i = 0; i < script.length; i++) {
    const a = script[i]!;
    if (call.ended) return;
    if (a.atMs !== undefined && !(await call.clock.until(a.atMs))) return;
    if (a.when) {
      const seen = await whenReady(call, a.when.ready, a.when.waitMs ?? WHEN_WAIT_MS);
      if (seen === 'ended') return;
      if (seen === 'timeout') {
        call.note('caller', `waited for ${a.when.what}, which never came; skips this step`);
        continue;
      }
    }
    if (
      a.afterAgentSilenceMs !== undefined &&
      !(await whenAgentSilent(call, a.afterAgentSilenceMs, framesBefore, a.agentSpeechWaitMs))
    )
      return;
    framesBefore = call.audibleFrames;
    if (a.hangup) {
      call.note('caller', 'hangs up');
      call.end('caller');
      return;
    }
    if (a.silenceMs !== undefined) {
      if (!(await call.clock.sleep(a.silenceMs))) return;
    }
    const audio = await prepared[i];
    if (audio !== undefined) {
      if (!(await whenListening(call, false))) return;
      const label =
        a.say !== undefined ? `says "${a.say}"` : a.wav !== undefined ? `plays ${a.wav}` : `noise ${a.noiseMs} ms`;
      call.note('caller', audio ? label : `${label} (no audio: TTS/WAV failed)`);
      if (audio) {
        call.callerAudio.push(audio);
        if (!(await drained(call))) return;
        call.note('caller', 'done speaking');
      }
    }
    if (a.dtmf !== undefined) {
      if (!(await whenListening(call, true))) return;
      for (const d of a.dtmf) {
        if (call.ended) return;
        if (!/^[0-9*#A-D]$/.test(d)) {
          call.note('caller', `ignores invalid digit ${JSON.stringify(d)}`);
          continue;
        }
        call.deliverDtmf(d);
        if (!(await call.clock.sleep(DTMF_GAP_MS))) return;
      }
    }
  }
}
