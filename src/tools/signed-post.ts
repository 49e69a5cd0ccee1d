import http from 'node:http';
import https from 'node:https';
import { isToolExecutionError } from './errors.js';
import { guardedLookup, type Resolver } from './netguard.js';
import { SIGNATURE_HEADER, signBridgePayload } from './signing.js';

/** What a receiver answers is read up to this much, then dropped: only its status matters. */
const MAX_ANSWER_BYTES = 16 * 1024;

export interface SignedPost {
  /** checked by checkWebhookUrl already */
  url: URL;
  /** a dev allow-listed host: no address check at connect time (bridge.tool_allow_hosts) */
  allowListed: boolean;
  body: string;
  secret: string;
  /** stable across retries of one delivery, so a receiver can drop a duplicate */
  idempotencyKey: string;
  timeoutMs: number;
  signal?: AbortSignal;
  resolver?: Resolver;
}

/** One attempt's end: the receiver's status, or why none came. */
export type PostResult = { status: number } | { error: 'timeout' | 'network' | 'blocked' | 'aborted'; code?: string };

function codeOf(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' && /^[A-Z0-9_]{1,40}$/.test(c) ? c : undefined;
}

/**
 * One signed JSON POST (X-Bridge-Signature over the exact body, as tool webhooks are signed,
 * src/tools/signing.ts) to a URL under the tool webhooks' address rules: the name is resolved
 * and every address checked before connecting (guardedLookup). No redirect is followed, no
 * connection kept. Bounded by `timeoutMs` from the start to the answer's end; resolves, never
 * throws — a garbage answer or a reset is `network`.
 */
export function postSigned(o: SignedPost): Promise<PostResult> {
  const isHttps = o.url.protocol === 'https:';
  const lib = isHttps ? https : http;
  const body = Buffer.from(o.body, 'utf8');
  return new Promise<PostResult>((resolve) => {
    let done = false;
    const finish = (r: PostResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ error: 'timeout' }), o.timeoutMs);
    timer.unref();
    const onAbort = (): void => finish({ error: 'aborted' });
    const req = lib.request(o.url, {
      method: 'POST',
      agent: false,
      ...(o.allowListed ? {} : { lookup: guardedLookup(o.resolver) }),
      headers: {
        'Content-Type': 'application/json',
        'Content-Length': body.length,
        Accept: 'application/json',
        'User-Agent': 'omni-phone-bridge',
        'Idempotency-Key': o.idempotencyKey,
        [SIGNATURE_HEADER]: signBridgePayload(o.secret, body),
      },
    });
    if (o.signal?.aborted) return finish({ error: 'aborted' });
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => {
      if (isToolExecutionError(err)) return finish({ error: 'blocked' }); // the address guard refused
      const code = codeOf(err);
      finish({ error: 'network', ...(code ? { code } : {}) });
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) finish({ status });
      });
      res.on('end', () => finish({ status }));
      res.on('error', () => finish({ status }));
    });
    req.end(body);
  });
}
