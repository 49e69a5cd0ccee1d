import type { Doc, SimCallPort, VerbOutcome } from './call-port.js';
import { runDial, runEnqueue } from './dial.js';
import { DigitCollector } from './digits.js';
import { MediaStream } from './media-stream.js';
import { digitsAudio, holdMusic } from './sounds.js';
import { type TwimlNode, parseTwiml } from './twiml-parser.js';
import { cachedSpeak, playToCaller } from './verb-audio.js';

/**
 * Executes TwiML the way Twilio does: verbs in order; a verb that fetches a new document
 * (Redirect, Gather/Dial/Connect action) replaces the rest of the current one; running out of
 * verbs ends the call. A REST update aborts the running document through `signal`.
 */

const MAX_DOCUMENTS = 500;
const MAX_LOOP = 100;
export async function runDocuments(call: SimCallPort, first: Doc, signal: AbortSignal): Promise<'hangup' | 'end'> {
  let doc: Doc | null = first;
  for (let n = 0; doc && n < MAX_DOCUMENTS; n++) {
    let root: TwimlNode;
    try {
      root = parseTwiml(doc.xml);
    } catch (err) {
      call.violation(`12100 document parse failure: ${(err as Error).message}`);
      return 'end';
    }
    let next: Doc | null = null;
    for (const verb of root.children) {
      if (signal.aborted || call.ended) return 'end';
      const out = await runVerb(call, verb, doc, signal);
      if (signal.aborted || call.ended) return 'end';
      if (out === 'hangup' || out === 'stop') return out === 'hangup' ? 'hangup' : 'end';
      if (out) {
        next = out;
        break;
      }
    }
    doc = next;
  }
  if (doc) call.violation('too many TwiML documents in a row (redirect loop?)');
  return 'end';
}

async function runVerb(call: SimCallPort, verb: TwimlNode, doc: Doc, signal: AbortSignal): Promise<VerbOutcome> {
  switch (verb.name) {
    case 'Say':
      await say(call, verb, signal);
      return undefined;
    case 'Play':
      await play(call, verb, signal);
      return undefined;
    case 'Pause': {
      const s = Number(verb.attrs.length ?? '1');
      call.note('twilio', `pause ${s}s`);
      await call.clock.sleep((Number.isFinite(s) ? s : 1) * 1000, signal);
      return undefined;
    }
    case 'Hangup':
    case 'Reject':
      call.note('twilio', verb.name === 'Hangup' ? 'hangup' : 'reject');
      return 'hangup';
    case 'Redirect': {
      call.note('twilio', `redirect ${verb.text}`);
      return (await call.web.fetch(verb.text, doc.url, {}, verb.attrs.method)) ?? 'stop';
    }
    case 'Gather':
      return gather(call, verb, doc, signal);
    case 'Connect':
      return connect(call, verb, doc, signal);
    case 'Dial':
      return runDial(call, verb, doc, signal);
    case 'Enqueue':
      return runEnqueue(call, verb, doc, signal);
    default:
      call.violation(`12200 unsupported or unknown verb <${verb.name}> (skipped)`);
      return undefined;
  }
}

function loops(verb: TwimlNode): number {
  const n = Number(verb.attrs.loop ?? '1');
  if (!Number.isInteger(n) || n < 0) return 1;
  return n === 0 ? MAX_LOOP : Math.min(n, MAX_LOOP);
}

async function say(call: SimCallPort, verb: TwimlNode, signal: AbortSignal, interrupt?: Promise<void>): Promise<void> {
  call.note('twilio', `say "${verb.text}"`);
  const pcm = await cachedSpeak(verb.text);
  // Without TTS the prompt still takes its time, as silence (~65 ms per character).
  const audio = pcm ?? new Int16Array(Math.round(verb.text.length * 0.065 * 8000));
  for (let i = loops(verb); i > 0; i--) if (!(await playToCaller(call, audio, signal, interrupt))) return;
}

async function play(call: SimCallPort, verb: TwimlNode, signal: AbortSignal, interrupt?: Promise<void>): Promise<void> {
  const digits = verb.attrs.digits;
  if (digits !== undefined) {
    if (!/^[0-9*#A-DwW]{1,128}$/.test(digits))
      return call.violation(`13221 <Play digits="${digits.slice(0, 20)}"> is invalid`);
    call.note('twilio', `play digits ${digits}`);
    await playToCaller(call, digitsAudio(digits), signal, interrupt);
    return;
  }
  // Audio URLs are not fetched: a stand-in chime marks where the file would play.
  call.note('twilio', `play ${verb.text || '(no url)'}`);
  for (let i = loops(verb); i > 0; i--) if (!(await playToCaller(call, holdMusic(3000), signal, interrupt))) return;
}

async function gather(call: SimCallPort, verb: TwimlNode, doc: Doc, signal: AbortSignal): Promise<VerbOutcome> {
  const a = verb.attrs;
  const input = (a.input ?? 'dtmf').split(/\s+/);
  if (!input.includes('dtmf')) call.note('twilio', `gather input="${a.input}": speech is not simulated`);
  const numDigits = a.numDigits !== undefined ? Number(a.numDigits) : Infinity;
  const finishOnKey = a.finishOnKey ?? '#';
  const timeoutS = a.timeout !== undefined ? Number(a.timeout) : 5;
  const collector = new DigitCollector(call.clock);
  call.gather = collector;
  call.note('twilio', `gather (numDigits=${a.numDigits ?? '-'}, finishOnKey="${finishOnKey}", timeout=${timeoutS}s)`);
  let digits = '';
  let finished = '';
  try {
    for (const child of verb.children) {
      if (signal.aborted) return 'stop';
      if (child.name === 'Say') await say(call, child, signal, collector.firstDigit);
      else if (child.name === 'Play') await play(call, child, signal, collector.firstDigit);
      else if (child.name === 'Pause') await call.clock.sleep(Number(child.attrs.length ?? '1') * 1000, signal);
      else call.violation(`12200 <${child.name}> is not allowed inside <Gather>`);
    }
    while (digits.length < numDigits) {
      const d = await collector.next((Number.isFinite(timeoutS) ? timeoutS : 5) * 1000, signal);
      if (d === null) break;
      if (finishOnKey && d === finishOnKey) {
        finished = d;
        break;
      }
      digits += d;
    }
  } finally {
    if (call.gather === collector) call.gather = undefined;
  }
  if (signal.aborted || call.ended) return 'stop';
  if (!digits) {
    call.note('twilio', 'gather: no input, continuing');
    return undefined;
  }
  call.note('twilio', `gather: digits ${digits}`);
  const extra: Record<string, string> = { Digits: digits };
  if (finished) extra.FinishedOnKey = finished;
  return (await call.web.fetch(a.action ?? doc.url, doc.url, extra, a.method)) ?? 'stop';
}

async function connect(call: SimCallPort, verb: TwimlNode, doc: Doc, signal: AbortSignal): Promise<VerbOutcome> {
  const streamNode = verb.children.find((c) => c.name === 'Stream');
  if (!streamNode || verb.children.length !== 1) {
    call.violation('12200 <Connect> must contain exactly one <Stream> (other nouns are not simulated)');
    if (!streamNode) return undefined;
  }
  const raw = streamNode.attrs.url ?? '';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    call.violation(`31920 <Stream url="${raw.slice(0, 80)}"> is not an absolute URL`);
    return undefined;
  }
  if (url.protocol !== 'wss:') {
    call.violation(`<Stream url> must be wss:// (got ${url.protocol}//)`);
    if (url.protocol !== 'ws:') return undefined;
  }
  if (url.search) call.violation('<Stream url> has a query string: Twilio drops it (use <Parameter>)');
  url.search = '';
  const customParameters: Record<string, string> = {};
  for (const p of streamNode.children) {
    if (p.name !== 'Parameter') {
      call.violation(`12200 <${p.name}> is not allowed inside <Stream>`);
      continue;
    }
    const name = p.attrs.name ?? '';
    const value = p.attrs.value ?? '';
    if (!name || name.length >= 500 || value.length >= 500)
      call.violation(`<Parameter name="${name.slice(0, 30)}"> name/value must be 1..499 characters`);
    customParameters[name] = value;
  }
  let onEnded!: () => void;
  const ended = new Promise<void>((r) => (onEnded = r));
  const stream = new MediaStream(
    {
      publicUrl: url.toString(),
      connectUrl: call.env.mapper.map(url.toString()),
      authToken: call.env.authToken,
      accountSid: call.env.accountSid,
      callSid: call.callSid,
      customParameters,
    },
    {
      now: () => call.clock.now(),
      violation: (w) => call.violation(w),
      note: (who, what) => call.note(who, what),
      started: (s) => call.onStreamStarted(s),
      received: (pcm) => call.onBridgeAudio(pcm),
      ended: (s) => {
        call.onStreamEnded(s);
        onEnded();
      },
    },
  );
  call.note('twilio', `connect stream ${url.toString()}`);
  call.openStream(stream);
  const onAbort = () => stream.stop();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await ended;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (signal.aborted || call.ended) return 'stop';
  if (verb.attrs.action) return (await call.web.fetch(verb.attrs.action, doc.url, {}, verb.attrs.method)) ?? 'stop';
  return undefined;
}
