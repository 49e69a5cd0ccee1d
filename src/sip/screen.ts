import type { TrunkSelector, TrunkLike } from './admission.js';
import { challenges, verify, type Credentials, type DigestPolicy } from './digest.js';
import { dialledNumber } from './e164.js';
import { getHeader, getHeaders, type SipHeader } from './headers.js';
import type { SipRequest } from './message.js';

/**
 * The checks a new INVITE passes before anything is answered, in this order: the source and the
 * user agent (silence for strangers and scanners), the trunk's digest (407 / 403), then the dialled
 * number (404). Digest before the number, so that an unauthenticated caller cannot probe which
 * numbers exist. What the number routes to (`numbers:`, `sip.default_agent`) is the call core's.
 * The result is a `ScreenVerdict` for the UAS's `screen` hook.
 */

export interface ScreenedInvite<T> {
  readonly trunk: T;
  readonly number: string;
}

export interface ScreenDeps<T extends TrunkLike> {
  selector: TrunkSelector<T>;
  /** the trunk's digest policy and credentials; undefined when the trunk has no digest */
  digestFor(trunk: T): { policy: DigestPolicy; credentials: Credentials } | undefined;
}

export function screenInvite<T extends TrunkLike>(
  req: SipRequest,
  sourceAddress: string,
  deps: ScreenDeps<T>,
): { drop: true } | { reject: number; headers?: SipHeader[] } | { accept: true; context: ScreenedInvite<T> } {
  const admission = deps.selector.admit(req, sourceAddress);
  if (!admission.admitted) return { drop: true };
  const trunk = admission.trunk;
  const digest = deps.digestFor(trunk);
  if (digest) {
    const callId = getHeader(req.headers, 'Call-ID') ?? '';
    const verdict = verify(
      digest.policy,
      { method: req.method, callId, authorizations: getHeaders(req.headers, 'Proxy-Authorization') },
      digest.credentials,
    );
    if (!verdict.ok) {
      if (verdict.outcome === 'forbidden') return { reject: 403 };
      const headers: SipHeader[] = challenges(digest.policy, callId, verdict.stale).map((value) => ({
        name: 'Proxy-Authenticate',
        value,
      }));
      return { reject: 407, headers };
    }
  }
  const number = dialledNumber(req);
  if (!number.ok) return { reject: number.status };
  return { accept: true, context: { trunk, number: number.number } };
}
