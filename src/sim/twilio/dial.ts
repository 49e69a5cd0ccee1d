import type { Doc, SimCallPort, VerbOutcome } from './call-port.js';
import { newSid } from './media-stream.js';
import { holdMusic, ringback } from './sounds.js';
import { type TwimlNode, parseTwiml } from './twiml-parser.js';
import type { DialRecord } from './types.js';
import { cachedSpeak, playToCaller } from './verb-audio.js';
import { runConference } from './conference-verb.js';

/**
 * `<Dial>` and `<Enqueue>` against a simulated human (SimulatorOptions.human): the human
 * answers and talks, or the leg ends busy / no-answer / failed. The outcome is posted to the
 * verb's action URL (DialCallStatus / QueueResult) and its TwiML is followed; without an action
 * Twilio continues after the verb.
 */

const DIAL_NOUNS = ['Number', 'Sip', 'Client', 'Queue', 'Conference'];

/** A noun's address: its text, or a `<Client>`'s `<Identity>` (the form that carries `<Parameter>`s). */
function addressOf(n: TwimlNode): string {
  if (n.name !== 'Client' || n.text) return n.text;
  return n.children.find((c) => c.name === 'Identity')?.text ?? '';
}

/** The `<Parameter>`s of a `<Client>`, as Twilio hands them to the Voice SDK (`customParameters`). */
function clientParameters(verb: TwimlNode): Record<string, string> | undefined {
  const client = verb.children.find((c) => c.name === 'Client');
  const params = client?.children.filter((c) => c.name === 'Parameter') ?? [];
  if (params.length === 0) return undefined;
  return Object.fromEntries(params.map((p) => [p.attrs.name ?? '', p.attrs.value ?? '']));
}

function describeTarget(verb: TwimlNode): string | undefined {
  const nouns = verb.children.filter((c) => DIAL_NOUNS.includes(c.name));
  if (nouns.length > 0) return nouns.map((n) => `${n.name.toLowerCase()}:${addressOf(n)}`).join(',');
  return verb.text ? `number:${verb.text}` : undefined;
}

/** Ringing, with ringback in the caller's ear; false if the call moved on meanwhile. */
async function ring(call: SimCallPort, ms: number, signal: AbortSignal): Promise<boolean> {
  return playToCaller(call, ringback(ms), signal);
}

/** The human talks (the caller hears silence here: the simulator has no second voice). */
async function talk(call: SimCallPort, ms: number, signal: AbortSignal): Promise<boolean> {
  call.note('human', 'answered');
  const ok = await call.clock.sleep(ms, signal);
  if (ok) call.note('human', 'hung up');
  return ok;
}

export async function runDial(call: SimCallPort, verb: TwimlNode, doc: Doc, signal: AbortSignal): Promise<VerbOutcome> {
  const a = verb.attrs;
  const target = describeTarget(verb);
  if (!target) {
    call.violation('13201 <Dial> without a number or noun');
    return undefined;
  }
  for (const c of verb.children) {
    if (!DIAL_NOUNS.includes(c.name)) call.violation(`12200 <${c.name}> is not allowed inside <Dial>`);
  }
  // A conference is a meeting of the simulator's calls, not the simulated human.
  const conference = verb.children.find((c) => c.name === 'Conference');
  if (conference) return runConference(call, conference, verb, doc, signal);
  let timeoutS = a.timeout !== undefined ? Number(a.timeout) : 30;
  if (!Number.isFinite(timeoutS) || timeoutS < 5 || timeoutS > 600) {
    call.violation(`13214 <Dial timeout="${a.timeout}"> must be 5..600`);
    timeoutS = Math.min(600, Math.max(5, Number.isFinite(timeoutS) ? timeoutS : 30));
  }
  const human = call.env.human;
  const params = clientParameters(verb);
  call.note('twilio', `dial ${target}${a.callerId ? ` (callerId ${a.callerId})` : ''}`);
  const ringMs =
    human.answer === 'no-answer' ? Math.min(timeoutS * 1000, human.ringMs ?? timeoutS * 1000) : (human.ringMs ?? 1000);
  if (!(await ring(call, ringMs, signal))) return 'stop';
  let result: DialRecord['result'];
  let durationS = 0;
  if (human.answer === 'answer') {
    const talkMs = human.talkMs ?? 2000;
    if (!(await talk(call, talkMs, signal))) {
      call.dialed.push({ target, result: 'completed', ...(params ? { params } : {}) });
      return 'stop';
    }
    result = 'completed';
    durationS = Math.round(talkMs / 1000);
  } else {
    result = human.answer;
    call.note('human', result === 'busy' ? 'busy' : result === 'failed' ? 'call failed' : 'no answer');
  }
  call.dialed.push({ target, result, ...(params ? { params } : {}) });
  call.lastDialCompleted = result === 'completed';
  if (!a.action) return undefined;
  const extra: Record<string, string> = { DialCallStatus: result, DialCallSid: newSid('CA') };
  if (result === 'completed') extra.DialCallDuration = String(durationS);
  return (await call.web.fetch(a.action, doc.url, extra, a.method)) ?? 'stop';
}

/** Plays the queue's wait TwiML (Play/Say/Pause) or stand-in hold music for `holdMs`. */
async function hold(
  call: SimCallPort,
  verb: TwimlNode,
  doc: Doc,
  signal: AbortSignal,
  holdMs: number,
): Promise<boolean> {
  const ctl = new AbortController();
  const onAbort = () => ctl.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  void call.clock.sleep(holdMs, signal).then(() => ctl.abort());
  let waitVerbs: TwimlNode[] = [];
  if (verb.attrs.waitUrl) {
    const queueParams = { QueuePosition: '1', QueueTime: '0', CurrentQueueSize: '1', AvgQueueTime: '0' };
    const wait = await call.web.fetch(verb.attrs.waitUrl, doc.url, queueParams, verb.attrs.waitUrlMethod);
    try {
      if (wait) waitVerbs = parseTwiml(wait.xml).children;
    } catch (err) {
      call.violation(`12100 waitUrl document parse failure: ${(err as Error).message}`);
    }
  }
  while (!ctl.signal.aborted && !call.ended) {
    for (const v of waitVerbs) {
      if (ctl.signal.aborted) break;
      if (v.name === 'Play') await playToCaller(call, holdMusic(3000), ctl.signal);
      else if (v.name === 'Pause') await call.clock.sleep(Number(v.attrs.length ?? '1') * 1000, ctl.signal);
      else if (v.name === 'Say')
        await playToCaller(call, (await cachedSpeak(v.text)) ?? new Int16Array(8000), ctl.signal);
    }
    // Always let the clock move, whatever the wait document holds: no busy loop.
    if (waitVerbs.length === 0) await playToCaller(call, holdMusic(3000), ctl.signal);
    else await call.clock.sleep(20, ctl.signal);
  }
  signal.removeEventListener('abort', onAbort);
  return !signal.aborted && !call.ended;
}

export async function runEnqueue(
  call: SimCallPort,
  verb: TwimlNode,
  doc: Doc,
  signal: AbortSignal,
): Promise<VerbOutcome> {
  const queue = verb.text;
  if (!queue) {
    call.violation('<Enqueue> without a queue name');
    return undefined;
  }
  const human = call.env.human;
  call.note('twilio', `enqueued in "${queue}"`);
  if (human.answer !== 'answer') {
    // Nobody dequeues: the caller waits on hold until the call ends.
    await hold(call, verb, doc, signal, Number.MAX_SAFE_INTEGER);
    return 'stop';
  }
  if (!(await hold(call, verb, doc, signal, human.ringMs ?? 1000))) return 'stop';
  call.note('twilio', `dequeued from "${queue}"`);
  const target = `queue:${queue}`;
  const talkMs = human.talkMs ?? 2000;
  const ok = await talk(call, talkMs, signal);
  call.dialed.push({ target, result: 'completed' });
  if (!ok) return 'stop';
  call.lastDialCompleted = true;
  if (!verb.attrs.action) return undefined;
  return (
    (await call.web.fetch(
      verb.attrs.action,
      doc.url,
      { QueueResult: 'bridged', QueueTime: String(Math.round((human.ringMs ?? 1000) / 1000)) },
      verb.attrs.method,
    )) ?? 'stop'
  );
}
