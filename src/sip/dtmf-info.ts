/**
 * DTMF sent as SIP INFO, the fallback of PBXs that do not send RFC 4733: `application/dtmf-relay`
 * (`Signal=5` and `Duration=160` lines) or `application/dtmf` (the digit alone). Some senders
 * write `*`, `#` and A–D as their event numbers 10–15.
 */

const BY_NUMBER = '0123456789*#ABCD';

function digitOf(raw: string): string | undefined {
  const s = raw.trim().toUpperCase();
  if (/^[0-9*#A-D]$/.test(s)) return s;
  if (/^1[0-5]$/.test(s)) return BY_NUMBER[Number(s)];
  return undefined;
}

export function parseDtmfInfo(contentType: string | undefined, body: Buffer): string | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const text = body.toString('utf8', 0, Math.min(body.length, 512));
  if (type === 'application/dtmf-relay') {
    const m = /^\s*signal\s*=\s*(\S+)\s*$/im.exec(text);
    return m ? digitOf(m[1]!) : undefined;
  }
  if (type === 'application/dtmf') return digitOf(text);
  return undefined;
}
