import http from 'node:http';
import https from 'node:https';
import { httpStatusError, isToolExecutionError, networkError, ToolExecutionError } from './errors.js';
import { guardedLookup, type Resolver } from './netguard.js';
import { idempotencyKey, SIGNATURE_HEADER, signBridgePayload } from './signing.js';
import type { ExecContext, Executor, HttpExecutorConfig } from './types.js';
import type { TraceSpan } from '../observability/tracing.js';

/** Response bodies are read up to this size, then the connection is dropped. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Length of the body excerpt put into an `http_error` output. */
const ERROR_SNIPPET_CHARS = 256;

export interface HttpExecutorOptions {
  toolName: string;
  config: HttpExecutorConfig;
  /** Already checked by `checkWebhookUrl`. */
  url: URL;
  /** Dev allow-listed host: no address check at connect time. */
  allowListed: boolean;
  /** Value of the auth header, resolved from the environment. */
  authValue?: string;
  signingSecret?: string;
  /** the signing secret a rotation replaced, and until when (epoch ms) it still signs beside the new one */
  previousSigning?: { secret: string; untilMs: number };
  agents: { http: http.Agent; https: https.Agent };
  resolver?: Resolver;
  /** the agent's binding settings (control plane), sent in `context.settings` */
  settings?: Record<string, unknown>;
  maxResponseBytes?: number;
}

/** Keep-alive agents shared by the webhook tools of one registry. */
export function createAgents(): { http: http.Agent; https: https.Agent } {
  // A free socket is dropped before a typical 5 s server keep-alive expires, so a request is not
  // written into a socket the server is closing (that would fail an action, which never retries).
  const opts = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: 4000 };
  return { http: new http.Agent(opts), https: new https.Agent(opts) };
}

/**
 * Printable, single-line, bounded excerpt of an error body. Secrets are scrubbed before the cut,
 * so a cut cannot leave half a secret that no later scrubbing would recognise.
 */
function snippet(text: string, secrets: readonly string[]): string {
  let clean = text;
  for (const s of secrets) if (s && clean.includes(s)) clean = clean.split(s).join('[redacted]');
  clean = clean.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean.length > ERROR_SNIPPET_CHARS ? `${clean.slice(0, ERROR_SNIPPET_CHARS)}…` : clean;
}

function parseBody(text: string): unknown {
  if (text.length === 0) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : 'connection failed';
}

/**
 * A webhook executor. One attempt per call; the runtime owns budget, abort and the read retry.
 * Body: `{call_id, name, arguments, context}`; GET carries the same JSON in the `payload` query
 * parameter. The signature always covers exactly that JSON text.
 */
export function createHttpExecutor(o: HttpExecutorOptions): Executor {
  const isHttps = o.url.protocol === 'https:';
  const lib = isHttps ? https : http;
  const agent = isHttps ? o.agents.https : o.agents.http;
  const lookup = o.allowListed ? undefined : guardedLookup(o.resolver);
  const maxBytes = o.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  const { method } = o.config;
  const secrets = [o.authValue, o.signingSecret, o.previousSigning?.secret].filter((v): v is string => !!v);

  const send = (args: Record<string, unknown>, ctx: ExecContext, span: TraceSpan | undefined): Promise<unknown> =>
    new Promise<unknown>((resolve, reject) => {
      const raw = JSON.stringify({
        call_id: ctx.toolCallId,
        name: o.toolName,
        arguments: args,
        context: {
          call_sid: ctx.context.callSid,
          agent_id: ctx.context.agentId,
          from: ctx.context.from ?? null,
          to: ctx.context.to ?? null,
          ...(o.settings ? { settings: o.settings } : {}),
        },
      });
      const headers: Record<string, string | number> = {
        ...o.config.headers,
        Accept: 'application/json',
        'User-Agent': 'omni-phone-bridge',
        'Idempotency-Key': idempotencyKey(ctx.context.callSid, ctx.toolCallId),
      };
      // the replaced secret signs too, and only until its grace period ends (checked per delivery)
      const previous = o.previousSigning && Date.now() < o.previousSigning.untilMs ? [o.previousSigning.secret] : [];
      if (o.signingSecret) headers[SIGNATURE_HEADER] = signBridgePayload(o.signingSecret, raw, undefined, previous);
      if (o.config.auth_header && o.authValue !== undefined) headers[o.config.auth_header] = o.authValue;
      // the receiver's spans join the call's trace (W3C Trace Context)
      const traceparent = span?.traceparent();
      if (traceparent) headers.traceparent = traceparent;

      let target = o.url;
      let body: Buffer | undefined;
      if (method === 'GET') {
        target = new URL(o.url);
        target.searchParams.set('payload', raw);
      } else {
        body = Buffer.from(raw, 'utf8');
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = body.length;
      }

      let settled = false;
      const fail = (err: ToolExecutionError | Error): void => {
        if (settled) return;
        settled = true;
        reject(err);
      };

      let req: http.ClientRequest;
      try {
        req = lib.request(target, { method, headers, agent, lookup, signal: ctx.signal });
      } catch {
        // Synchronous refusals (e.g. an invalid header value) are configuration errors; node's
        // message is not forwarded because it may quote the offending header.
        const message = 'webhook request could not be built';
        fail(new ToolExecutionError('tool_failed', message, { error: 'tool_failed', message }));
        return;
      }

      req.on('error', (err) => {
        if (isToolExecutionError(err)) return fail(err); // SSRF refusal from the lookup
        if (ctx.signal.aborted) return fail(err);
        fail(networkError(errorCode(err)));
      });

      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        span?.set({ 'http.response.status_code': status });
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = (): void => {
          if (settled) return;
          settled = true;
          const text = Buffer.concat(chunks, Math.min(size, maxBytes)).toString('utf8');
          if (status >= 200 && status < 300) resolve(parseBody(text));
          else reject(httpStatusError(status, snippet(text, secrets)));
        };
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          const room = maxBytes - size;
          if (chunk.length >= room) {
            // Cap reached: keep what fits and stop reading; the size cap rules take it from here.
            chunks.push(chunk.subarray(0, room));
            size = maxBytes;
            finish();
            res.destroy();
            return;
          }
          chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', finish);
        res.on('error', (err) => fail(ctx.signal.aborted ? err : networkError(errorCode(err))));
        res.on('close', () => {
          if (!res.complete) fail(ctx.signal.aborted ? new Error('aborted') : networkError('ECONNRESET'));
        });
      });

      req.end(body);
    });

  return (args, ctx) => {
    // the request's span: method and host only (a URL's path or query may carry a token)
    const span = ctx.trace?.child(
      `webhook ${method}`,
      { 'http.request.method': method, 'server.address': o.url.hostname, 'server.port': portOf(o.url) },
      'client',
    );
    const sent = send(args, ctx, span);
    if (!span) return sent;
    return sent.then(
      (value) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        // the outcome's name, never the error's text (it may quote the receiver's body)
        span.end(isToolExecutionError(err) ? err.outcome : ctx.signal.aborted ? 'aborted' : 'tool_failed');
        throw err;
      },
    );
  };
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}
