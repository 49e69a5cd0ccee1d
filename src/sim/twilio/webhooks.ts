import type { Doc, SimCallPort } from './call-port.js';
import { signedRequest } from './http.js';

/**
 * The requests Twilio makes to the application about one call: TwiML fetches (voice webhook,
 * action and redirect URLs) and status callbacks, all signed over their public URL.
 */
export class Webhooks {
  private statusSeq = 0;
  answeredAtMs = 0;

  constructor(private readonly call: SimCallPort) {}

  /** The params Twilio sends with every request about this call. */
  params(status: string): Record<string, string> {
    const { env, setup, callSid } = this.call;
    return {
      AccountSid: env.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: callSid,
      CallStatus: status,
      Called: setup.to,
      Caller: setup.from,
      Direction: setup.direction,
      From: setup.from,
      To: setup.to,
      ...(setup.extraParams ?? {}),
    };
  }

  /**
   * Requests TwiML (signed), resolving a relative `url` against `base`. A failure is what Twilio
   * calls an application error: a violation, and null (the caller then ends the call).
   */
  async fetch(url: string, base: string, extra: Record<string, string>, method = 'POST'): Promise<Doc | null> {
    const call = this.call;
    let abs: string;
    try {
      abs = new URL(url, base).toString();
    } catch {
      call.violation(`invalid URL in TwiML: ${url.slice(0, 80)}`);
      return null;
    }
    const m = method.toUpperCase() === 'GET' ? 'GET' : 'POST';
    const t0 = call.clock.now();
    const path = new URL(abs).pathname;
    try {
      const params = { ...this.params('in-progress'), ...extra };
      const res = await call.track(signedRequest(call.env.mapper, call.env.authToken, abs, params, m));
      call.note('twilio', `${m} ${path} → ${res.status} (${call.clock.now() - t0} ms)`);
      if (res.status < 200 || res.status >= 300) {
        call.violation(`11200 webhook ${m} ${path} answered HTTP ${res.status}`);
        return null;
      }
      if (!/xml/i.test(res.contentType))
        call.violation(`12300 webhook ${path} answered Content-Type "${res.contentType}", not XML`);
      return { xml: res.body, url: abs };
    } catch (err) {
      call.violation(`11200 webhook ${m} ${path} failed: ${(err as Error).message}`);
      return null;
    }
  }

  /** A status callback: fire-and-forget, numbered from 0 (they may arrive out of order). */
  status(event: 'initiated' | 'ringing' | 'answered' | 'completed', callStatus: string): void {
    const call = this.call;
    const url = call.setup.statusCallbackUrl;
    if (!url) return;
    const events = call.setup.statusEvents ?? ['initiated', 'ringing', 'answered', 'completed'];
    if (!events.includes(event)) return;
    const params: Record<string, string> = {
      ...this.params(callStatus),
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(this.statusSeq++),
      Timestamp: new Date().toUTCString().replace('GMT', '+0000'),
    };
    if (event === 'completed')
      params.CallDuration = String(Math.max(0, Math.round((call.clock.now() - this.answeredAtMs) / 1000)));
    let path: string;
    try {
      path = new URL(url).pathname;
    } catch {
      call.violation(`statusCallback is not a URL: ${url.slice(0, 80)}`);
      return;
    }
    void call.track(
      signedRequest(call.env.mapper, call.env.authToken, url, params).then(
        (res) => {
          if (res.status >= 300) call.violation(`15003 status callback ${path} (${event}) answered HTTP ${res.status}`);
        },
        (err: Error) => call.violation(`15003 status callback ${path} (${event}) failed: ${err.message}`),
      ),
    );
  }
}
