import { header, type SipRequest } from './message.js';
import { parseNameAddr, parseSipUri } from './uri.js';

/**
 * The dialled number of an INVITE as the `numbers:` routing reads it: the Request-URI user, else
 * the To user, normalised to E.164 — visual separators removed, a leading `+` added where missing,
 * then 7–15 digits with no leading zero. Anything else is not a number the bridge can route (404).
 */

const SEPARATORS = /[\s\-.()/]/g;

export function normaliseE164(user: string): string | undefined {
  // user parameters (`;npdi`, `;isub=`) are not part of the number
  const bare = user.split(';')[0]!.replace(SEPARATORS, '');
  const withPlus = bare.startsWith('+') ? bare : `+${bare}`;
  return /^\+[1-9]\d{6,14}$/.test(withPlus) ? withPlus : undefined;
}

export type DialledNumber = { ok: true; number: string } | { ok: false; status: 404; reason: string };

export function dialledNumber(req: SipRequest): DialledNumber {
  const ruri = parseSipUri(req.uri)?.user;
  const toValue = header(req, 'To');
  const toUri = toValue === undefined ? undefined : parseNameAddr(toValue)?.uri;
  const toUser = toUri === undefined ? undefined : parseSipUri(toUri)?.user;
  const user = ruri ?? toUser;
  if (user === undefined) return { ok: false, status: 404, reason: 'no user in the Request-URI or To' };
  const number = normaliseE164(user);
  return number ? { ok: true, number } : { ok: false, status: 404, reason: 'the dialled user is not an E.164 number' };
}
