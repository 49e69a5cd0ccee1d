import { silentLogger } from '../../observability/logger.js';
import { SimCall, type CallEnv } from './call.js';
import { makeHandle } from './handle.js';
import { ConferenceRoom } from './conference.js';
import { UrlMapper } from './http.js';
import { startRestServer, type RestBackend, type RestCallView, type RestOutcome } from './rest-server.js';
import type { CallHandle, PlaceCallOptions, RecordedRestRequest, SimulatorOptions, TwilioSimulator } from './types.js';

export * from './types.js';
export { formatTimeline, formatSummary, maskE164 } from './timeline.js';
export { parseTwiml, parseTwimlXml, TwimlParseError, type TwimlNode } from './twiml-parser.js';

/**
 * The Twilio simulator: places calls against a running bridge exactly as Twilio would (signed
 * webhooks, Media Streams at real time, TwiML execution) and serves a fake REST API for the
 * bridge's call control. See specs/twilio.md for the behaviour it reproduces.
 */

const DEFAULT_MAX_DURATION_MS = 120_000;
/** Twilio refuses longer `Twiml` parameters. */
const MAX_TWIML_CHARS = 4000;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export async function startTwilioSimulator(opts: SimulatorOptions): Promise<TwilioSimulator> {
  if (!opts.accountSid.startsWith('AC')) throw new Error('accountSid must start with AC');
  const mapper = new UrlMapper(opts.publicUrl, opts.replicaUrls?.length ? opts.replicaUrls : opts.bridgeUrl);
  const env: CallEnv = {
    accountSid: opts.accountSid,
    authToken: opts.authToken,
    mapper,
    logger: opts.logger ?? silentLogger(),
    human: opts.human ?? { answer: 'answer', talkMs: 2000 },
    conferences: new ConferenceRoom(),
  };
  const live = new Map<string, SimCall>();
  const handles = new Map<string, CallHandle>();
  const restRequests: RecordedRestRequest[] = [];
  const t0 = performance.now();

  const view = (c: SimCall): RestCallView => ({
    sid: c.callSid,
    status: c.ended ? 'completed' : 'in-progress',
    from: c.setup.from,
    to: c.setup.to,
    direction: c.setup.direction,
  });

  const register = (call: SimCall): CallHandle => {
    if (live.has(call.callSid)) throw new Error(`call ${call.callSid} already exists`);
    live.set(call.callSid, call);
    const h = makeHandle(call);
    handles.set(call.callSid, h);
    return h;
  };

  const backend: RestBackend = {
    accountSid: opts.accountSid,
    authToken: opts.authToken,
    now: () => Math.round(performance.now() - t0),
    find: (sid) => {
      const c = live.get(sid);
      return c ? view(c) : undefined;
    },
    update(sid, form): RestOutcome {
      const call = live.get(sid);
      if (!call || call.ended) return { status: 404 };
      const status = first(form.Status);
      const twiml = first(form.Twiml);
      const url = first(form.Url);
      if (status !== undefined) {
        if (status === 'completed') {
          call.restUpdates++;
          call.note('twilio', 'REST update: Status=completed');
          call.end('rest-completed');
          return { status: 200, call: view(call) };
        }
        // `canceled` only affects queued or ringing calls: an answered call carries on.
        if (status === 'canceled') {
          if (!call.answered) {
            call.restUpdates++;
            call.note('twilio', 'REST update: Status=canceled while ringing');
            call.end('not-answered', 'canceled');
          }
          return { status: 200, call: view(call) };
        }
        return { status: 400, code: 21218, message: `Invalid Status "${status.slice(0, 20)}"` };
      }
      if (twiml !== undefined) {
        if (twiml.length > MAX_TWIML_CHARS)
          return { status: 400, code: 21220, message: `Twiml exceeds ${MAX_TWIML_CHARS} characters` };
        const err = call.updateTwiml(twiml);
        if (err) return { status: 400, code: 12100, message: `Invalid TwiML: ${err}` };
        return { status: 200, call: view(call) };
      }
      if (url !== undefined) {
        try {
          new URL(url);
        } catch {
          return { status: 400, code: 21205, message: 'Url is not a valid URL' };
        }
        call.restUpdates++;
        call.note('twilio', `REST update: Url=${url}`);
        void call.web.fetch(url, url, {}, first(form.Method)).then((doc) => {
          if (!doc || call.ended) return;
          call.runTwiml(doc);
        });
        return { status: 200, call: view(call) };
      }
      return { status: 400, code: 20001, message: 'One of Twiml, Url or Status is required' };
    },
    create(form): RestOutcome {
      const to = first(form.To);
      const from = first(form.From);
      const twiml = first(form.Twiml);
      const url = first(form.Url);
      if (!to) return { status: 400, code: 21201, message: "No 'To' number is specified" };
      if (!from) return { status: 400, code: 21213, message: "No 'From' number is specified" };
      // Twilio calls an E.164 number, a SIP URI (custom X- headers after `?`) or a Voice SDK
      // client (custom parameters after `?`, handed to the SDK as customParameters).
      if (!/^(\+[1-9]\d{6,14}|sips?:[^\s@]+@[^\s]+|client:[A-Za-z0-9_.-]+(\?[^\s]*)?)$/.test(to))
        return { status: 400, code: 21211, message: "Invalid 'To' Phone Number" };
      if (twiml === undefined && url === undefined)
        return { status: 400, code: 21205, message: 'Url or Twiml is required' };
      if (twiml !== undefined && twiml.length > MAX_TWIML_CHARS)
        return { status: 400, code: 21220, message: 'Twiml too long' };
      const rawTimeout = first(form.Timeout);
      const timeoutS = rawTimeout === undefined ? undefined : Number(rawTimeout);
      if (timeoutS !== undefined && !(Number.isInteger(timeoutS) && timeoutS >= 1 && timeoutS <= 600))
        return { status: 400, code: 21216, message: 'Timeout must be an integer from 1 to 600' };
      // A client's custom parameters go to its Voice SDK (customParameters), not into the call's `To`.
      const q = to.startsWith('client:') ? to.indexOf('?') : -1;
      const address = q < 0 ? to : to.slice(0, q);
      const clientParams = q < 0 ? undefined : new URLSearchParams(to.slice(q + 1)).toString();
      const statusCallback = first(form.StatusCallback);
      const events = form.StatusCallbackEvent;
      const call = new SimCall(
        env,
        {
          from,
          to: address,
          direction: 'outbound-api',
          realtime: true,
          maxDurationMs: DEFAULT_MAX_DURATION_MS,
          ...(statusCallback ? { statusCallbackUrl: statusCallback } : {}),
          // Without StatusCallbackEvent Twilio sends only `completed`.
          statusEvents: events === undefined ? ['completed'] : Array.isArray(events) ? events : [events],
          ...(form.MachineDetection !== undefined ? { extraParams: { AnsweredBy: 'human' } } : {}),
          ...(timeoutS !== undefined ? { ringTimeoutS: timeoutS } : {}),
          // What the callee does once answered (press keys, speak), if the human has a script.
          ...(env.human.script ? { caller: env.human.script } : {}),
        },
        url ?? mapper.publicBase + '/',
      );
      register(call);
      if (clientParams) call.note('twilio', `client parameters ${clientParams}`);
      call.runOutbound({ twiml, url, method: first(form.Method) }).catch((err: Error) => {
        call.violation(`simulator error: ${err.message}`);
        call.end('twiml-end');
      });
      return { status: 201, call: { ...view(call), status: 'queued' } };
    },
  };

  const rest = await startRestServer(backend, restRequests, opts.restPort ?? 0);

  return {
    restBase: rest.base,
    restRequests,
    setReplicas: (urls) => mapper.setPool(urls),
    setHuman: (h) => {
      env.human = h;
    },
    calls: handles,
    placeCall(p: PlaceCallOptions): CallHandle {
      const voiceUrl = p.voiceUrl ?? `${mapper.publicBase}/twilio/voice`;
      const call = new SimCall(
        env,
        {
          ...(p.callSid ? { callSid: p.callSid } : {}),
          from: p.from,
          to: p.to,
          direction: 'inbound',
          realtime: p.realtime ?? true,
          maxDurationMs: p.maxDurationMs ?? DEFAULT_MAX_DURATION_MS,
          ...(p.caller ? { caller: p.caller } : {}),
          ...(p.statusCallbackUrl ? { statusCallbackUrl: p.statusCallbackUrl } : {}),
          ...(p.extraParams ? { extraParams: p.extraParams } : {}),
        },
        voiceUrl,
      );
      const handle = register(call);
      // Started on the next turn so listeners attached right after placeCall see every entry.
      setImmediate(() => {
        call.run().catch((err: Error) => {
          call.violation(`simulator error: ${err.message}`);
          call.end('twiml-end');
        });
      });
      return handle;
    },
    async close(): Promise<void> {
      const calls = [...live.values()];
      for (const c of calls) c.end('timeout');
      await Promise.race([Promise.all(calls.map((c) => c.done)), new Promise((r) => setTimeout(r, 3000).unref())]);
      await Promise.all(calls.map((c) => c.settle(1000)));
      await rest.close();
    },
  };
}
