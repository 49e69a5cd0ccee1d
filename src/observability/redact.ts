/** Phone numbers and digit runs, masked before anything leaves the process for a person to read. */

/** `+15557654321` → `•••4321`; anything without 4 digits shows as `•••`. */
export function maskNumber(n: string | undefined): string {
  const digits = (n ?? '').replace(/\D/g, '');
  return digits.length >= 4 ? `•••${digits.slice(-4)}` : '•••';
}

/**
 * Masks digit runs that look like card, account or phone numbers (6+ digits, spaces or dashes
 * allowed between them, spoken words for digits included) before a transcript is stored.
 */
export function redactNumbers(text: string): string {
  const digitWord = '(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\\d)';
  const run = new RegExp(`(?:${digitWord}[\\s-]*){6,}`, 'gi');
  return text.replace(run, (m) => (m.replace(/[^0-9a-z]/gi, '').length >= 6 ? '[redacted] ' : m)).trimEnd();
}

/**
 * Text for a page (a refused reload's message): phone numbers masked as maskNumber does, and
 * absolute file paths shortened to their last part — the server's layout is not the page's business.
 */
export function maskForPage(text: string): string {
  return text
    .replace(/(?:[A-Za-z]:)?(?:[\\/][^\s\\/'"`:,;()]+){2,}/g, (p) => `…/${p.split(/[\\/]/).pop() ?? ''}`)
    .replace(/\+?\d[\d().\s-]{5,}\d/g, (m) => (m.replace(/\D/g, '').length >= 7 ? maskNumber(m) : m));
}

/** Keys whose values are never shown, whatever they hold (tokens, signatures, passwords, keys). */
const SECRET_KEY = /secret|token|passw|api[-_]?key|auth|signature|credential|cookie|bearer|private/i;
const PREVIEW_MAX = 400;

/**
 * A tool's arguments or result as a person may read them (the console's past-call review):
 * compact JSON, values under secret-looking keys replaced by `[secret]`, phone numbers and digit
 * runs masked (strings and numbers alike), `scrub` (the configured secrets' values) applied
 * before it is cut to 400 characters, so a secret is never shown half.
 */
export function previewForPage(value: unknown, scrub: (text: string) => string = (t) => t): string | undefined {
  if (value === undefined) return undefined;
  let json: string | undefined;
  try {
    json = JSON.stringify(value, (key, v: unknown) => {
      if (key && SECRET_KEY.test(key)) return '[secret]';
      if (typeof v === 'number' && Number.isFinite(v) && String(Math.trunc(Math.abs(v))).length >= 6)
        return maskNumber(String(v));
      if (typeof v === 'string') return redactNumbers(maskForPage(v));
      return v;
    });
  } catch {
    return '[not shown: not JSON]';
  }
  if (json === undefined) return undefined;
  const text = scrub(json);
  return text.length > PREVIEW_MAX ? `${text.slice(0, PREVIEW_MAX - 1)}…` : text;
}
