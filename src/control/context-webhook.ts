import type { AgentConfig, ContextWebhookConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { checkWebhookUrl, normalizeHost, type Resolver } from '../tools/netguard.js';
import { postSigned, type PostResult } from '../tools/signed-post.js';
import type { TransferContext } from './transfer-context.js';

/**
 * The context webhook (`transfer.context_webhook`): at a transfer, the call's context
 * (transfer-context.ts) is POSTed, signed, to the contact center's desktop, so the human who
 * picks up sees who calls and why. It never holds the transfer up: `deliver` returns at once and
 * the delivery runs beside the call (and may outlive it). Each attempt is bounded (timeout_ms);
 * a 5xx, a timeout or a network error is tried again (retries) after a backoff; a 4xx or a 3xx
 * is final (the receiver refused this body; sending it again changes nothing). Every delivery's
 * final outcome is counted, with the agent's id (configuration) as its only other label.
 */

export type ContextOutcome =
  /** a 2xx */
  | 'delivered'
  /** a 3xx or 4xx: the receiver refused it (not retried) */
  | 'refused'
  /** 5xx, timeouts or network errors on every attempt */
  | 'failed'
  /** the address guard refused the host's address (private, loopback, metadata…) */
  | 'blocked'
  /** the URL or the signing secret is not usable (a reload changed the environment) */
  | 'misconfigured'
  /** the bridge stopped during the delivery */
  | 'aborted';

export interface ContextSender {
  /** Starts a delivery of `context` for `agent`'s webhook (none configured: nothing). Returns at once. */
  deliver(agent: AgentConfig, context: TransferContext): void;
}

export interface ContextWebhookOptions {
  env: NodeJS.ProcessEnv;
  allowHosts: readonly string[];
  logger: Logger;
  count(agent: string, outcome: ContextOutcome): void;
  countRetry(agent: string): void;
  resolver?: Resolver;
  /** the first retry's wait; doubled each time, with jitter (default 250 ms) */
  backoffMs?: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    t.unref();
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

const retryable = (r: PostResult): boolean => ('status' in r ? r.status >= 500 : r.error !== 'blocked');

export class ContextWebhooks implements ContextSender {
  private readonly stop = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly allow: ReadonlySet<string>;

  constructor(private readonly o: ContextWebhookOptions) {
    this.allow = new Set(o.allowHosts.map(normalizeHost));
  }

  deliver(agent: AgentConfig, context: TransferContext): void {
    const hook = agent.transfer.context_webhook;
    if (!hook || this.stop.signal.aborted) return;
    const p = this.run(agent.id, hook, context).catch((err: unknown) => {
      this.o.logger.error({ err: (err as Error).message }, 'context webhook: delivery failed unexpectedly');
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Resolves once every delivery started so far has ended (tests, the benchmark). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  /** Ends every delivery in flight (the bridge stops); later ones are not started. */
  close(): void {
    this.stop.abort();
  }

  private async run(agent: string, hook: ContextWebhookConfig, context: TransferContext): Promise<void> {
    const log = this.o.logger.child({ callSid: context.call.call_sid, contextId: context.context_id });
    const check = checkWebhookUrl(hook.url, this.allow);
    const secret = this.o.env[hook.signing_secret_env];
    if (!check.ok || !secret) {
      // Checked at load (schema, agent set): only a changed environment gets here. The URL is not logged.
      log.error(
        { reason: check.ok ? `${hook.signing_secret_env} is not set` : check.reason },
        'context webhook: not sent',
      );
      return this.o.count(agent, 'misconfigured');
    }
    const body = JSON.stringify(context);
    const base = this.o.backoffMs ?? 250;
    const t0 = Date.now();
    let last: PostResult = { error: 'network' };
    for (let attempt = 0; attempt <= hook.retries; attempt++) {
      if (attempt > 0) {
        this.o.countRetry(agent);
        await sleep(base * 2 ** (attempt - 1) * (0.5 + Math.random() / 2), this.stop.signal);
      }
      if (this.stop.signal.aborted) break;
      last = await postSigned({
        url: check.url,
        allowListed: check.allowListed,
        body,
        secret,
        idempotencyKey: context.context_id,
        timeoutMs: hook.timeout_ms,
        signal: this.stop.signal,
        ...(this.o.resolver ? { resolver: this.o.resolver } : {}),
      });
      if (!retryable(last)) break;
    }
    const outcome: ContextOutcome =
      'status' in last
        ? last.status >= 200 && last.status < 300
          ? 'delivered'
          : last.status < 500
            ? 'refused'
            : 'failed'
        : last.error === 'blocked'
          ? 'blocked'
          : last.error === 'aborted' || this.stop.signal.aborted
            ? 'aborted'
            : 'failed';
    this.o.count(agent, outcome);
    const detail = 'status' in last ? { status: last.status } : { error: last.error, code: last.code };
    const ms = Date.now() - t0;
    if (outcome === 'delivered') log.info({ ms }, 'context webhook delivered');
    else log.warn({ outcome, ...detail, ms }, 'context webhook not delivered; the transfer went on regardless');
  }
}
