import twilio from 'twilio';
import RequestClient from 'twilio/lib/base/RequestClient.js';
import type { Logger } from '../observability/logger.js';
import { REST_CALL_SID_RE } from './wire.js';

/**
 * Call control through Twilio's REST API (specs/twilio.md §3), wrapping the official client.
 * Every method resolves to a RestResult and never throws: call control runs inside a live call,
 * where an exception would take down the call's event handling instead of one action.
 */

export type RestResult =
  { ok: true; alreadyEnded?: boolean } | { ok: false; status?: number; code?: number; message: string };

export interface CreateCallOptions {
  to: string;
  from: string;
  twiml?: string;
  url?: string;
  statusCallback?: string;
  statusCallbackEvent?: string[];
  machineDetection?: string;
  /** seconds the callee's phone rings before no-answer (Twilio: 5..600, default 60) */
  timeout?: number;
}

export interface TwilioRest {
  updateCallTwiml(callSid: string, twiml: string): Promise<RestResult>;
  updateCallUrl(callSid: string, url: string, method?: 'GET' | 'POST'): Promise<RestResult>;
  /** `Status=completed`; a call Twilio no longer knows is reported as `{ ok: true, alreadyEnded: true }`. */
  hangup(callSid: string): Promise<RestResult>;
  createCall(opts: CreateCallOptions): Promise<RestResult & { callSid?: string }>;
  /** `Status=canceled`: stops a call that is still queued or ringing (an answered one carries on). */
  cancel(callSid: string): Promise<RestResult>;
}

export interface TwilioRestOptions {
  accountSid: string;
  authToken: string;
  /** e.g. `http://127.0.0.1:4010` (TWILIO_API_BASE): every request goes there instead of api.twilio.com */
  apiBase?: string;
  timeoutMs?: number;
  logger: Logger;
}

const DEFAULT_TIMEOUT_MS = 5000;
/** Twilio's "resource not found". */
const NOT_FOUND_CODE = 20404;
/** Twilio's "call is not in-progress" (the call ended between our decision and the request). */
const NOT_IN_PROGRESS_CODE = 21220;

/**
 * Sends the package's requests to another origin (a local fake API in tests and the demo).
 * The package has no base-URL option; `edge`/`region` only rewrite the host name.
 */
class RedirectingRequestClient extends RequestClient {
  constructor(
    private readonly base: URL,
    timeoutMs: number,
  ) {
    super({ keepAlive: false, timeout: timeoutMs });
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const u = new URL(opts.uri);
    u.protocol = this.base.protocol;
    u.host = this.base.host;
    return super.request({ ...opts, uri: u.toString() });
  }
}

interface ErrorLike {
  status?: unknown;
  code?: unknown;
  message?: unknown;
}

/** Reduces any thrown value to status/code and a short message with no URL or credentials. */
function describe(err: unknown): { status?: number; code?: number; message: string } {
  const e = (err ?? {}) as ErrorLike;
  const status = typeof e.status === 'number' ? e.status : undefined;
  const code = typeof e.code === 'number' ? e.code : undefined;
  let message: string;
  if (status !== undefined) message = typeof e.message === 'string' && e.message ? e.message : `HTTP ${status}`;
  else if (typeof e.code === 'string')
    message = e.code === 'ECONNABORTED' ? 'timeout' : e.code; // axios / socket errors
  else message = typeof e.message === 'string' ? e.message : 'request failed';
  return { status, code, message: message.replace(/https?:\/\/\S+/g, '<url>').slice(0, 160) };
}

function isNotFound(d: { status?: number; code?: number }): boolean {
  return d.status === 404 || d.code === NOT_FOUND_CODE;
}

/** A hang-up may be repeated safely; worth one more try on a network error or a 5xx. */
function isRetryable(d: { status?: number }): boolean {
  return d.status === undefined || d.status >= 500;
}

export function createTwilioRest(opts: TwilioRestOptions): TwilioRest {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const log = opts.logger.child({ component: 'twilio-rest' });
  const httpClient = opts.apiBase
    ? new RedirectingRequestClient(new URL(opts.apiBase), timeoutMs)
    : new RequestClient({ timeout: timeoutMs });
  const client = twilio(opts.accountSid, opts.authToken, { httpClient, autoRetry: false });

  /**
   * Runs one request with a hard deadline on top of the HTTP timeout, so a stuck socket can
   * never hold call control hostage.
   */
  async function attempt<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; err: unknown }> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ECONNABORTED' })), timeoutMs + 1000);
    });
    try {
      return { ok: true, value: await Promise.race([fn(), deadline]) };
    } catch (err) {
      return { ok: false, err };
    } finally {
      clearTimeout(timer);
    }
  }

  function badSid(callSid: string): RestResult | undefined {
    return REST_CALL_SID_RE.test(callSid) ? undefined : { ok: false, message: 'invalid callSid' };
  }

  async function update(callSid: string, params: Record<string, string>, what: string): Promise<RestResult> {
    const invalid = badSid(callSid);
    if (invalid) return invalid;
    const res = await attempt(() => client.calls(callSid).update(params));
    if (res.ok) {
      log.info({ callSid, action: what }, 'call updated');
      return { ok: true };
    }
    const d = describe(res.err);
    log.warn({ callSid, action: what, ...d }, 'call update failed');
    return { ok: false, ...d };
  }

  return {
    updateCallTwiml: (callSid, twiml) => update(callSid, { twiml }, 'twiml'),

    updateCallUrl: (callSid, url, method = 'POST') => update(callSid, { url, method }, 'url'),

    async cancel(callSid) {
      const res = await update(callSid, { status: 'canceled' }, 'cancel');
      // A call Twilio no longer knows, or one past ringing, is not ours to cancel any more.
      if (!res.ok && (res.status === 404 || res.code === NOT_FOUND_CODE)) return { ok: true, alreadyEnded: true };
      return res;
    },

    async hangup(callSid) {
      const invalid = badSid(callSid);
      if (invalid) return invalid;
      let d: ReturnType<typeof describe> | undefined;
      for (let i = 0; i < 2; i++) {
        const res = await attempt(() => client.calls(callSid).update({ status: 'completed' }));
        if (res.ok) {
          log.info({ callSid }, 'call hung up');
          return { ok: true };
        }
        d = describe(res.err);
        if (isNotFound(d) || d.code === NOT_IN_PROGRESS_CODE) {
          log.info({ callSid, status: d.status, code: d.code }, 'hang-up: call already ended');
          return { ok: true, alreadyEnded: true };
        }
        if (!isRetryable(d)) break;
        log.warn({ callSid, attempt: i + 1, ...d }, 'hang-up failed');
      }
      log.error({ callSid, ...d }, 'hang-up gave up');
      return { ok: false, ...(d ?? { message: 'request failed' }) };
    },

    async createCall(c) {
      const params = {
        to: c.to,
        from: c.from,
        ...(c.twiml !== undefined ? { twiml: c.twiml } : {}),
        ...(c.url !== undefined ? { url: c.url } : {}),
        ...(c.statusCallback !== undefined ? { statusCallback: c.statusCallback } : {}),
        ...(c.statusCallbackEvent !== undefined ? { statusCallbackEvent: c.statusCallbackEvent } : {}),
        ...(c.machineDetection !== undefined ? { machineDetection: c.machineDetection } : {}),
        ...(c.timeout !== undefined ? { timeout: c.timeout } : {}),
      };
      if (params.twiml === undefined && params.url === undefined)
        return { ok: false, message: 'twiml or url required' };
      const res = await attempt(() => client.calls.create(params));
      if (res.ok) {
        log.info({ callSid: res.value.sid, to: c.to }, 'call created');
        return { ok: true, callSid: res.value.sid };
      }
      const d = describe(res.err);
      log.warn({ to: c.to, ...d }, 'call create failed');
      return { ok: false, ...d };
    },
  };
}
