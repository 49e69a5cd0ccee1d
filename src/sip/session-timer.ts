import { getHeader, getHeaders, type SipHeader } from './headers.js';
import type { SipRequest } from './message.js';

/**
 * RFC 4028 session timers, the UAS's side: what an INVITE (or a refreshing re-INVITE) asked for,
 * what the 2xx answers, and when the bridge must act. The refresher refreshes at half the
 * interval; the other side ends the call with BYE when no refresh came by the interval minus
 * min(32 s, a third of it) (§10).
 */

export type Refresher = 'uac' | 'uas';

export interface SessionTimer {
  seconds: number;
  refresher: Refresher;
}

export type TimerVerdict =
  /** the request did not ask for a session timer: none runs */
  | { timer: undefined }
  | { timer: SessionTimer; headers: SipHeader[] }
  /** 422 Session Interval Too Small, with our Min-SE */
  | { tooSmall: SipHeader[] };

/** `Session-Expires: 1800;refresher=uac` → {seconds, refresher}; undefined when malformed. */
export function parseSessionExpires(value: string | undefined): { seconds: number; refresher?: Refresher } | undefined {
  if (value === undefined) return undefined;
  const [delta, ...params] = value.split(';');
  if (!/^\s*\d{1,10}\s*$/.test(delta ?? '')) return undefined;
  const seconds = Number(delta);
  if (!(seconds > 0)) return undefined;
  let refresher: Refresher | undefined;
  for (const p of params) {
    const [k, v] = p.split('=').map((x) => x.trim().toLowerCase());
    if (k === 'refresher' && (v === 'uac' || v === 'uas')) refresher = v;
  }
  return refresher ? { seconds, refresher } : { seconds };
}

const supportsTimer = (req: SipRequest) =>
  [...getHeaders(req.headers, 'Supported'), ...getHeaders(req.headers, 'Require')].some(
    (o) => o.trim().toLowerCase() === 'timer',
  );

/**
 * What to answer a request that creates or refreshes the session. `minSeconds` is our Min-SE;
 * a Min-SE in the request raises it (§9). A peer that does not support timers (a proxy added the
 * header) cannot refresh: the bridge does (§9, refresher=uas).
 */
export function negotiateTimer(req: SipRequest, minSeconds: number): TimerVerdict {
  const asked = parseSessionExpires(getHeader(req.headers, 'Session-Expires'));
  if (!asked) return { timer: undefined };
  if (asked.seconds < minSeconds) return { tooSmall: [{ name: 'Min-SE', value: String(minSeconds) }] };
  const peerCan = supportsTimer(req);
  const refresher: Refresher = peerCan ? (asked.refresher ?? 'uac') : 'uas';
  const headers: SipHeader[] = [{ name: 'Session-Expires', value: `${asked.seconds};refresher=${refresher}` }];
  if (peerCan) headers.push({ name: 'Require', value: 'timer' });
  return { timer: { seconds: asked.seconds, refresher }, headers };
}

/** When, after a refresh (or the answer), the bridge acts: refreshes (uas) or gives up (uac), in ms. */
export function timerDueMs(t: SessionTimer): number {
  return t.refresher === 'uas' ? (t.seconds * 1000) / 2 : (t.seconds - Math.min(32, t.seconds / 3)) * 1000;
}
