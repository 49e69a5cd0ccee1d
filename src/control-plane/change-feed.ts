import pg from 'pg';
import type { Logger } from '../observability/logger.js';
import type { Queryable } from './pool.js';

/**
 * Every replica hears a configuration change within a second: each write that changes what calls
 * run from (tools, agents, bindings, numbers, settings) sends `NOTIFY opb_config` in its own
 * transaction (PostgreSQL delivers it at commit, never for a rolled-back write), and each replica
 * LISTENs on a connection of its own, outside the pool (a pooled client is handed to others and
 * would lose the LISTEN). A lost connection is opened again with a growing delay (100 ms to 5 s),
 * and each new connection starts with a full reload: a notification sent while it was away is
 * never waited for, the whole configuration is read again instead.
 */

export const CONFIG_CHANNEL = 'opb_config';
/** A revoked API key's id: every replica ends that key's console sessions at once. */
export const KEYS_CHANNEL = 'opb_key_revoked';

/** The audit actions that change what calls run from (keys and call actions do not). */
const CONFIG_ACTIONS = /^(tool|agent|number|setting)\./;

/** In the write's transaction: every replica reloads once it commits. */
export async function notifyConfigChange(db: Queryable, action: string): Promise<void> {
  if (!CONFIG_ACTIONS.test(action)) return;
  await db.query('SELECT pg_notify($1, $2)', [CONFIG_CHANNEL, action.slice(0, 64)]);
}

/** In the revocation's transaction: heard by every replica once it commits. */
export async function notifyKeyRevoked(db: Queryable, keyId: string): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [KEYS_CHANNEL, keyId]);
}

export type ChangeReason = 'notify' | 'reconnect';

export interface ChangeFeedOptions {
  url: string;
  logger: Logger;
  onChange: (reason: ChangeReason) => void;
  /**
   * A key was revoked (its id), or, after a reconnection, any key may have been (undefined): a
   * revocation committed while the feed was away is not heard again.
   */
  onKeyRevoked?: (keyId: string | undefined) => void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** how often the listening connection is checked (a silently dead one hears nothing) */
  heartbeatMs?: number;
}

export class ChangeFeed {
  private client: pg.Client | undefined;
  private stopped = false;
  private failures = 0;
  private connectedOnce = false;
  private retry: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lostLogged = false;

  constructor(private readonly o: ChangeFeedOptions) {}

  /** Starts listening; resolves once the first attempt succeeded or failed (a failure retries on its own). */
  async start(): Promise<void> {
    await this.connect();
    this.heartbeat = setInterval(() => void this.check(), this.o.heartbeatMs ?? 5000);
    this.heartbeat.unref();
  }

  get listening(): boolean {
    return this.client !== undefined;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const c = new pg.Client({
      connectionString: this.o.url,
      connectionTimeoutMillis: 5000,
      keepAlive: true,
      application_name: 'omni-phone-bridge:listen',
    });
    let gone = false;
    const lost = () => {
      if (gone) return;
      gone = true;
      if (this.client === c) this.client = undefined;
      c.end().catch(() => undefined);
      this.scheduleRetry();
    };
    c.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.lostLogged)
        this.o.logger.warn(
          { code: err.code ?? 'error' },
          'control plane: the change feed lost the database; it reconnects and reloads',
        );
      this.lostLogged = true;
      lost();
    });
    c.on('end', lost);
    c.on('notification', (m) => {
      if (m.channel === CONFIG_CHANNEL) this.o.onChange('notify');
      else if (m.channel === KEYS_CHANNEL && m.payload) this.o.onKeyRevoked?.(m.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CONFIG_CHANNEL}; LISTEN ${KEYS_CHANNEL}`);
    } catch {
      lost();
      return;
    }
    if (this.stopped || gone) return void c.end().catch(() => undefined);
    this.client = c;
    this.failures = 0;
    const again = this.connectedOnce;
    this.connectedOnce = true;
    if (this.lostLogged) this.o.logger.info('control plane: the change feed listens again');
    this.lostLogged = false;
    // what changed while we were not listening: read it all again
    if (again) {
      this.o.onChange('reconnect');
      this.o.onKeyRevoked?.(undefined);
    }
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retry) return;
    const min = this.o.minBackoffMs ?? 100;
    const max = this.o.maxBackoffMs ?? 5000;
    const delay = Math.min(max, min * 2 ** Math.min(this.failures, 16));
    this.failures++;
    // the first connection failed too: the next one that succeeds must reload
    this.connectedOnce = true;
    this.retry = setTimeout(
      () => {
        this.retry = undefined;
        void this.connect();
      },
      delay * (0.75 + Math.random() * 0.5),
    );
    this.retry.unref();
  }

  /** A listening connection that stopped answering (packets dropped) is closed, and so opened again. */
  private async check(): Promise<void> {
    const c = this.client;
    if (!c) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('no answer')), 3000);
        }),
      ]);
    } catch {
      if (this.client === c) {
        this.client = undefined;
        c.emit('end');
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }
}

/**
 * `fn` run for a burst of triggers at most twice: once now, and once more after it when any
 * trigger came while it ran (an import's twenty changes make two reloads, and the last one sees
 * them all).
 */
export function coalesced(fn: () => Promise<unknown>): () => void {
  let running = false;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void (async () => {
      do {
        again = false;
        await fn().catch(() => undefined);
      } while (again);
      running = false;
    })();
  };
}
