import http from 'node:http';
import https from 'node:https';
import { signTwilioRequest } from '../../twilio/signature.js';

/**
 * Outgoing requests of the simulator, made the way Twilio makes them: the signature covers the
 * *public* URL (what the TwiML or configuration says), while the connection goes to where the
 * bridge really listens. URLs under the public base are rewritten to the bridge base
 * (https→http and wss→ws when the bridge is plain HTTP on loopback).
 */
export class UrlMapper {
  private readonly pub: URL;
  private pool: URL[];
  private next = 0;

  /**
   * Several bridge URLs: the mapper is the load balancer in front of a fleet, choosing a replica
   * per request (each webhook, each Media Streams connection), round robin, with no affinity.
   */
  constructor(publicUrl: string, bridgeUrl: string | readonly string[]) {
    this.pub = new URL(publicUrl);
    this.pool = (typeof bridgeUrl === 'string' ? [bridgeUrl] : bridgeUrl).map((u) => new URL(u));
    if (!this.pool.length) throw new Error('at least one bridge URL');
  }

  /** Replaces the replicas requests go to (a balancer whose health check dropped or added one). */
  setPool(urls: readonly string[]): void {
    if (!urls.length) throw new Error('at least one bridge URL');
    this.pool = urls.map((u) => new URL(u));
  }

  private get bridge(): URL {
    const b = this.pool[this.next++ % this.pool.length]!;
    return b;
  }

  get publicBase(): string {
    return this.pub.origin + this.pub.pathname.replace(/\/$/, '');
  }

  /** Where to really connect for a public URL (http(s) or ws(s)). Unrelated URLs are kept. */
  map(url: string): string {
    const u = new URL(url);
    const pubPath = this.pub.pathname.replace(/\/$/, '');
    if (u.host !== this.pub.host || !u.pathname.startsWith(pubPath)) return url;
    const isWs = u.protocol === 'ws:' || u.protocol === 'wss:';
    const bridge = this.bridge;
    const secure = bridge.protocol === 'https:';
    const out = new URL(bridge.href);
    out.protocol = isWs ? (secure ? 'wss:' : 'ws:') : bridge.protocol;
    out.pathname = bridge.pathname.replace(/\/$/, '') + u.pathname.slice(pubPath.length);
    out.search = u.search;
    return out.toString();
  }
}

export interface HttpReply {
  status: number;
  contentType: string;
  body: string;
}

const WEBHOOK_TIMEOUT_MS = 15_000; // Twilio's own webhook timeout
const MAX_BODY = 1024 * 1024;

/** Serialises form params (repeated keys for arrays), like Twilio's webhooks. */
export function encodeForm(params: Record<string, string | string[]>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) for (const x of v) sp.append(k, x);
    else sp.append(k, v);
  }
  return sp.toString();
}

/**
 * A signed webhook request. POST sends the params as a form (signed over URL + params); GET
 * appends them to the query string (signed over the full URL only), as Twilio does.
 */
export function signedRequest(
  mapper: UrlMapper,
  authToken: string,
  publicUrl: string,
  params: Record<string, string | string[]>,
  method: 'GET' | 'POST' = 'POST',
): Promise<HttpReply> {
  let signedUrl = publicUrl;
  let body: string | undefined;
  if (method === 'GET') {
    const u = new URL(publicUrl);
    for (const [k, v] of Object.entries(params)) {
      if (Array.isArray(v)) for (const x of v) u.searchParams.append(k, x);
      else u.searchParams.append(k, v);
    }
    signedUrl = u.toString();
  } else {
    body = encodeForm(params);
  }
  const signature = signTwilioRequest(authToken, signedUrl, method === 'GET' ? {} : params);
  const target = new URL(mapper.map(signedUrl));
  const lib = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      target,
      {
        method,
        agent: false,
        timeout: WEBHOOK_TIMEOUT_MS,
        headers: {
          'X-Twilio-Signature': signature,
          'User-Agent': 'TwilioProxy/1.1',
          Accept: '*/*',
          ...(body !== undefined
            ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) req.destroy(new Error('response too large'));
          else chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}
