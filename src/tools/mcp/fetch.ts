import http from 'node:http';
import https from 'node:https';
import { guardedLookup, type Resolver } from '../netguard.js';

/**
 * The `fetch` the MCP client transports and the OAuth token request use. It goes through
 * node:http so that (1) every connection passes the webhooks' SSRF lookup (the addresses DNS
 * returns are checked and then connected to directly) unless the host is dev allow-listed, and
 * (2) no single message a server sends can exceed `maxMessageBytes`: a JSON body, or one
 * Server-Sent Event of a stream, over the cap aborts the response and reports `onOversize`.
 * Redirects are returned to the caller as they are, never followed here.
 */

export interface GuardedFetchOptions {
  allowListed: boolean;
  resolver?: Resolver;
  maxMessageBytes: number;
  agents: { http: http.Agent; https: https.Agent };
  /** A response grew past the cap; called once per response, before the body errors. */
  onOversize: (bytes: number) => void;
  /** A response's connection closed before its end (the server went away mid-stream). */
  onBroken?: () => void;
}

export class MessageTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`MCP server sent a message over ${limit} bytes`);
    this.name = 'MessageTooLargeError';
  }
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Bytes since the last blank line (the end of an SSE event). A JSON body has no blank line, so
 * for it this is the body's size; a long-lived event stream is judged event by event.
 */
export function createMessageMeter(limit: number) {
  let since = 0;
  /** The last two bytes of the previous chunk: a blank line can straddle two chunks. */
  let tail1 = -1;
  let tail2 = -1;
  return (chunk: Uint8Array): boolean => {
    const at = (i: number): number => (i >= 0 ? (chunk[i] ?? -1) : i === -1 ? tail1 : tail2);
    let boundary = -1;
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      const p1 = at(i - 1);
      if (p1 === LF || (p1 === CR && at(i - 2) === LF)) boundary = i;
    }
    since = boundary >= 0 ? chunk.length - boundary - 1 : since + chunk.length;
    if (chunk.length >= 2) {
      tail2 = chunk[chunk.length - 2] ?? -1;
      tail1 = chunk[chunk.length - 1] ?? -1;
    } else if (chunk.length === 1) {
      tail2 = tail1;
      tail1 = chunk[0] ?? -1;
    }
    return since <= limit;
  };
}

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init?.headers).forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

async function bodyOf(init: RequestInit | undefined): Promise<Buffer | undefined> {
  const b = init?.body;
  if (b === undefined || b === null) return undefined;
  if (typeof b === 'string') return Buffer.from(b, 'utf8');
  if (b instanceof URLSearchParams) return Buffer.from(b.toString(), 'utf8');
  if (b instanceof ArrayBuffer) return Buffer.from(b);
  if (ArrayBuffer.isView(b)) return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return Buffer.from(await new Response(b).arrayBuffer());
}

export function createGuardedFetch(
  o: GuardedFetchOptions,
): (url: string | URL, init?: RequestInit) => Promise<Response> {
  const lookup = o.allowListed ? undefined : guardedLookup(o.resolver);
  return async (input, init) => {
    const url = new URL(String(input));
    const isHttps = url.protocol === 'https:';
    const lib = isHttps ? https : http;
    const body = await bodyOf(init);
    const headers = headersOf(init);
    if (body) headers['content-length'] = String(body.length);
    const signal = init?.signal ?? undefined;
    return new Promise<Response>((resolve, reject) => {
      const req = lib.request(url, {
        method: init?.method ?? 'GET',
        headers,
        agent: isHttps ? o.agents.https : o.agents.http,
        lookup,
        signal,
      });
      req.on('error', reject);
      req.on('response', (res) => {
        const meter = createMessageMeter(o.maxMessageBytes);
        let received = 0;
        let done = false;
        // A hand-made stream rather than Readable.toWeb: a consumer that cancels must not leave
        // a late chunk to be enqueued into a closed controller (an uncaught exception).
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            const stop = (err?: Error): void => {
              if (done) return;
              done = true;
              if (err) controller.error(err);
              else controller.close();
            };
            res.on('data', (chunk: Buffer) => {
              if (done) return;
              received += chunk.length;
              if (!meter(chunk)) {
                o.onOversize(received);
                stop(new MessageTooLargeError(o.maxMessageBytes));
                res.destroy();
                return;
              }
              controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
              if ((controller.desiredSize ?? 1) <= 0) res.pause();
            });
            res.on('end', () => stop());
            // An error or a close before the end that the bridge did not cause (done is set
            // before every destroy of its own): the server went away mid-stream.
            const cut = (err: Error): void => {
              if (done || res.complete) return;
              stop(err);
              o.onBroken?.();
            };
            res.on('error', cut);
            res.on('close', () => cut(new Error('connection closed mid-response')));
          },
          pull() {
            res.resume();
          },
          cancel() {
            done = true;
            res.destroy();
          },
        });
        const status = res.statusCode ?? 0;
        const respHeaders = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (Array.isArray(v)) for (const x of v) respHeaders.append(k, x);
          else if (v !== undefined) respHeaders.set(k, v);
        }
        const nullBody = status === 204 || status === 304 || init?.method === 'HEAD';
        if (nullBody) res.resume();
        resolve(
          new Response(nullBody ? null : body, {
            status: status < 200 || status > 599 ? 502 : status,
            headers: respHeaders,
          }),
        );
      });
      req.end(body);
    });
  };
}
