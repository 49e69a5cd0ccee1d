import type { Doc, SimCallPort, VerbOutcome } from './call-port.js';
import { holdMusic } from './sounds.js';
import type { TwimlNode } from './twiml-parser.js';
import { playToCaller } from './verb-audio.js';

/** `<Dial><Conference>` for one call (the conference itself: conference.ts). */
const flag = (v: string | undefined, dflt: boolean): boolean => (v === undefined ? dflt : v.toLowerCase() === 'true');

/** Runs `<Dial><Conference>` for a call until it leaves (its document moved on or it hung up). */
export async function runConference(
  call: SimCallPort,
  noun: TwimlNode,
  verb: TwimlNode,
  doc: Doc,
  signal: AbortSignal,
): Promise<VerbOutcome> {
  const name = noun.text.trim();
  if (!name) {
    call.violation('<Conference> without a name');
    return undefined;
  }
  const conf = call.env.conferences.get(name);
  const a = noun.attrs;
  const member = call.conferenceMember;
  conf.join(member, {
    startOnEnter: flag(a.startConferenceOnEnter, true),
    endOnExit: flag(a.endConferenceOnExit, false),
  });
  call.joinConference(conf);
  call.note('twilio', `joined conference ${name}${conf.started ? ' (started)' : ' (waiting)'}`);
  const silentWait = a.waitUrl === '';
  try {
    while (!conf.started && !conf.ended && !signal.aborted && !call.ended) {
      // Wait music until the conference starts (the stand-in chime for Twilio's default music).
      const ctl = new AbortController();
      const stop = () => ctl.abort();
      signal.addEventListener('abort', stop, { once: true });
      void conf.changed().then(stop);
      if (silentWait) await call.clock.until(Number.MAX_SAFE_INTEGER, ctl.signal);
      else await playToCaller(call, holdMusic(3000), ctl.signal);
      signal.removeEventListener('abort', stop);
    }
    if (conf.started && !signal.aborted && !call.ended) {
      call.verbAudio.clear();
      call.note('twilio', `conference ${name} started: talking`);
      const ctl = new AbortController();
      const stop = () => ctl.abort();
      signal.addEventListener('abort', stop, { once: true });
      void conf.changed().then(stop);
      while (!conf.ended && !ctl.signal.aborted && !call.ended) await call.clock.sleep(200, ctl.signal);
      signal.removeEventListener('abort', stop);
    }
  } finally {
    conf.leave(member);
    call.joinConference(undefined);
    call.note('twilio', `left conference ${name}`);
  }
  call.dialed.push({ target: `conference:${name}`, result: 'completed' });
  if (signal.aborted || call.ended) return 'stop';
  call.lastDialCompleted = true;
  if (!verb.attrs.action) return undefined;
  return (
    (await call.web.fetch(verb.attrs.action, doc.url, { DialCallStatus: 'completed' }, verb.attrs.method)) ?? 'stop'
  );
}
