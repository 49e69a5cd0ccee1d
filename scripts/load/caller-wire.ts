/** What a load-test caller sends besides media: pre-encoded audio, and Twilio's signed webhook. */
import http from 'node:http';
import { encodeMulaw } from '../../src/audio/index.js';
import { signTwilioRequest } from '../../src/twilio/signature.js';

/** One second of speech-like test audio (two tones, syllable-rate envelope), pre-encoded. */
function buildPayloads(): string[] {
  const out: string[] = [];
  const pcm = new Int16Array(160);
  const mu = new Uint8Array(160);
  for (let f = 0; f < 50; f++) {
    for (let i = 0; i < 160; i++) {
      const t = (f * 160 + i) / 8000;
      const env = 0.55 + 0.45 * Math.sin(2 * Math.PI * 4 * t);
      pcm[i] = Math.round(
        9000 * env * (0.6 * Math.sin(2 * Math.PI * 220 * t) + 0.4 * Math.sin(2 * Math.PI * 1230 * t)),
      );
    }
    encodeMulaw(pcm, mu);
    out.push(Buffer.from(mu).toString('base64'));
  }
  return out;
}

export const PAYLOADS = buildPayloads();

/** A form POST signed the way Twilio signs it (over the public URL); resolves with the body of a 200. */
export function signedPost(
  agent: http.Agent,
  o: { bridgeUrl: string; publicUrl: string; authToken: string },
  path: string,
  params: Record<string, string>,
): Promise<string> {
  const body = new URLSearchParams(params).toString();
  const signature = signTwilioRequest(o.authToken, o.publicUrl + path, params);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${o.bridgeUrl}${path}`,
      {
        method: 'POST',
        agent,
        timeout: 10_000,
        headers: {
          'X-Twilio-Signature': signature,
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`POST ${path}: HTTP ${res.statusCode} ${text.slice(0, 80)}`));
          else resolve(text);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`POST ${path}: timeout`)));
    req.on('error', reject);
    req.end(body);
  });
}
