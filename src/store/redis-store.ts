import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  countOp,
  type CallSeen,
  type ControlAnswer,
  type ControlOp,
  type ControlRequest,
  type DirectoryEntry,
  type FleetStore,
  type ParkedCall,
} from './fleet-store.js';
import {
  CLAIM,
  CLAIM_CALL,
  controlReplySchema,
  controlRequestSchema,
  COUNT,
  entrySchema,
  INCR_WINDOW,
  LIST,
  parkedSchema,
  parseJson,
  REGISTER,
  RELEASE,
  UNPARK_IF,
} from './redis-scripts.js';

/**
 * The fleet store on one Redis (not Cluster: the scripts build keys from their arguments).
 * Every key and channel lives under `prefix`. Time is Redis's own (TIME inside the scripts), so
 * replicas with skewed clocks agree on which leases are live.
 *
 * Failure: the client never queues a command while disconnected (enableOfflineQueue false) and
 * each command has a timeout, so an unreachable Redis costs a call an immediate fallback, never
 * a wait. The client reconnects on its own; renewals re-write this replica's entries, so a
 * replica rejoins the directory even when Redis came back empty.
 */

export interface RedisStoreOptions {
  url: string;
  prefix: string;
  replicaId: string;
  leaseMs: number;
  /** each command's bound */
  commandTimeoutMs?: number;
  onError?: (op: string, err: Error) => void;
}

/** `redis://host:port` of REDIS_URL, for messages: never its password or path. */
export function redisOrigin(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid URL)';
  }
}

export class RedisStore implements FleetStore {
  readonly kind = 'redis' as const;
  readonly shared = true;
  readonly ops = new Map<string, number>();
  readonly replicaId: string;
  private readonly client: Redis;
  private readonly sub: Redis;
  private readonly p: string;
  private handler?: (req: ControlRequest) => Promise<ControlAnswer>;
  private readonly pending = new Map<string, (a: ControlAnswer) => void>();
  private closed = false;
  onError?: (op: string, err: Error) => void;

  private constructor(private readonly o: RedisStoreOptions) {
    this.replicaId = o.replicaId;
    this.p = o.prefix;
    const common = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      commandTimeout: o.commandTimeoutMs ?? 1000,
      // Keeps trying for as long as the process lives: a replica rejoins when Redis returns.
      retryStrategy: (n: number) => Math.min(100 * n, 2000),
    };
    this.client = new Redis(o.url, common);
    // The subscriber needs the offline queue: ioredis re-subscribes through it after a reconnect.
    this.sub = new Redis(o.url, { ...common, enableOfflineQueue: true, commandTimeout: undefined });
    // Errors are reported by the commands that meet them; the connection's own are only noted.
    this.client.on('error', () => undefined);
    this.sub.on('error', () => undefined);
  }

  /** Connects (bounded by `timeoutMs`) or throws an error that names REDIS_URL. */
  static async connect(o: RedisStoreOptions, timeoutMs = 3000): Promise<RedisStore> {
    const s = new RedisStore(o);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await s.client.connect();
          await s.sub.connect();
          await s.sub.subscribe(s.ch('ctl', o.replicaId), s.ch('reply', o.replicaId));
        })(),
        new Promise(
          (_r, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)),
        ),
      ]);
    } catch (err) {
      s.client.disconnect();
      s.sub.disconnect();
      throw new Error(
        `REDIS_URL (${redisOrigin(o.url)}) is unreachable: ${(err as Error).message}; check REDIS_URL and that Redis is running, or unset REDIS_URL to run a single replica without it`,
      );
    } finally {
      clearTimeout(timer);
    }
    s.sub.on('messageBuffer', (channel: Buffer, message: Buffer) =>
      s.onMessage(channel.toString(), message.toString('utf8')),
    );
    return s;
  }

  private ch(kind: 'ctl' | 'reply', replica: string): string {
    return `${this.p}${kind}:${replica}`;
  }

  private k(...parts: string[]): string {
    return this.p + parts.join(':');
  }

  health(): 'ok' | 'degraded' {
    return this.client.status === 'ready' ? 'ok' : 'degraded';
  }

  private async run<T, F>(op: string, fn: () => Promise<T>, fallback: F): Promise<T | F> {
    countOp(this.ops, op);
    if (this.closed) return fallback;
    try {
      return await fn();
    } catch (err) {
      (this.onError ?? this.o.onError)?.(op, err as Error);
      return fallback;
    }
  }

  claimSlot(callSid: string, max: number): Promise<boolean | undefined> {
    return this.run(
      'claimSlot',
      async () => (await this.client.eval(CLAIM, 1, this.k('slots'), callSid, max, this.o.leaseMs)) === 1,
      undefined,
    );
  }

  async register(e: DirectoryEntry): Promise<void> {
    await this.run(
      'register',
      () =>
        this.client.eval(
          REGISTER,
          1,
          this.k('slots'),
          this.k('call', ''),
          this.o.leaseMs,
          e.callSid,
          JSON.stringify(e),
        ),
      undefined,
    );
  }

  async release(callSid: string, owner?: string): Promise<void> {
    await this.run(
      'release',
      () => this.client.eval(RELEASE, 2, this.k('slots'), this.k('call', callSid), callSid, owner ?? ''),
      undefined,
    );
  }

  /** Renewal re-writes the entries (not only their expiry): a Redis that restarted empty gets them back. */
  async renew(entries: readonly DirectoryEntry[]): Promise<void> {
    if (!entries.length) return;
    const args = entries.flatMap((e) => [e.callSid, JSON.stringify(e)]);
    await this.run(
      'renew',
      () => this.client.eval(REGISTER, 1, this.k('slots'), this.k('call', ''), this.o.leaseMs, ...args),
      undefined,
    );
  }

  list(): Promise<DirectoryEntry[] | undefined> {
    return this.run(
      'list',
      async () => {
        const raw = (await this.client.eval(LIST, 1, this.k('slots'), this.k('call', ''))) as string[];
        return raw.map((r) => parseJson(entrySchema, r)).filter((e): e is DirectoryEntry => !!e);
      },
      undefined,
    );
  }

  lookup(callSid: string): Promise<DirectoryEntry | undefined> {
    return this.run(
      'lookup',
      async () => parseJson(entrySchema, await this.client.get(this.k('call', callSid))),
      undefined,
    );
  }

  count(): Promise<number | undefined> {
    return this.run('count', async () => Number(await this.client.eval(COUNT, 1, this.k('slots'))), undefined);
  }

  async park(p: ParkedCall, ttlMs: number): Promise<void> {
    await this.run(
      'park',
      () => this.client.set(this.k('parked', p.callSid), JSON.stringify(p), 'PX', Math.max(1, Math.round(ttlMs))),
      undefined,
    );
  }

  unpark(callSid: string): Promise<ParkedCall | undefined> {
    return this.run(
      'unpark',
      async () => parseJson<ParkedCall>(parkedSchema, await this.client.getdel(this.k('parked', callSid))),
      undefined,
    );
  }

  unparkIf(callSid: string, reason: ParkedCall['reason'], nonce?: string): Promise<ParkedCall | 'stale' | undefined> {
    return this.run(
      'unparkIf',
      async () => {
        const key = this.k('parked', callSid);
        const v = (await this.client.eval(UNPARK_IF, 1, key, reason, nonce ?? '')) as string | null;
        if (v === 'stale') return 'stale' as const;
        return parseJson<ParkedCall>(parkedSchema, v);
      },
      undefined,
    );
  }

  async dropParked(callSid: string): Promise<void> {
    await this.run('dropParked', () => this.client.del(this.k('parked', callSid)), undefined);
  }

  async noteEnded(callSid: string, ttlMs: number): Promise<void> {
    await this.run('noteEnded', () => this.client.set(this.k('ended', callSid), '1', 'PX', ttlMs), undefined);
  }

  hasEnded(callSid: string): Promise<boolean | undefined> {
    return this.run('hasEnded', async () => (await this.client.exists(this.k('ended', callSid))) === 1, undefined);
  }

  claimCall(route: string, callSid: string, rememberMs: number): Promise<CallSeen | undefined> {
    return this.run(
      'claimCall',
      async (): Promise<CallSeen> => {
        const r = (await this.client.eval(
          CLAIM_CALL,
          3,
          this.k('ended', callSid),
          this.k('seen', route, callSid),
          this.k('answer', route, callSid),
          Math.max(1, Math.round(rememberMs)),
        )) as [string, string?];
        if (r[0] === 'answered' && typeof r[1] === 'string') return { state: 'answered', twiml: r[1] };
        if (r[0] === 'new' || r[0] === 'ended') return { state: r[0] };
        return { state: 'seen' };
      },
      undefined,
    );
  }

  async saveAnswer(route: string, callSid: string, twiml: string, ttlMs: number): Promise<void> {
    await this.run(
      'saveAnswer',
      () => this.client.set(this.k('answer', route, callSid), twiml, 'PX', Math.max(1, Math.round(ttlMs))),
      undefined,
    );
  }

  consumeOnce(kind: string, id: string, ttlMs: number): Promise<boolean | undefined> {
    return this.run(
      'consumeOnce',
      async () =>
        (await this.client.set(this.k('used', kind, id), '1', 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK',
      undefined,
    );
  }

  noteRefusal(ip: string, windowMs: number): Promise<number | undefined> {
    return this.run(
      'noteRefusal',
      async () => Number(await this.client.eval(INCR_WINDOW, 1, this.k('refused', ip), windowMs)),
      undefined,
    );
  }

  refusals(ip: string): Promise<number | undefined> {
    return this.run('refusals', async () => Number((await this.client.get(this.k('refused', ip))) ?? 0), undefined);
  }

  onControl(handler: (req: ControlRequest) => Promise<ControlAnswer>): void {
    this.handler = handler;
  }

  async sendControl(
    replica: string,
    callSid: string,
    cmd: ControlOp,
    timeoutMs: number,
  ): Promise<ControlAnswer | 'timeout' | 'unavailable'> {
    const id = randomBytes(9).toString('base64url');
    const req: ControlRequest = { id, from: this.replicaId, callSid, cmd };
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<ControlAnswer | 'timeout'>((resolve) => {
      this.pending.set(id, resolve);
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    // PUBLISH answers how many subscribers got it: none means the owner's process is gone.
    const receivers = await this.run(
      'sendControl',
      () => this.client.publish(this.ch('ctl', replica), JSON.stringify(req)),
      undefined,
    );
    if (!receivers) {
      clearTimeout(timer);
      this.pending.delete(id);
      return 'unavailable';
    }
    const a = await answer;
    clearTimeout(timer);
    this.pending.delete(id);
    return a;
  }

  private onMessage(channel: string, message: string): void {
    if (message.length > 4096) return;
    if (channel === this.ch('reply', this.replicaId)) {
      const r = parseJson(controlReplySchema, message);
      if (r) this.pending.get(r.id)?.({ status: r.status, body: r.body });
      return;
    }
    const req = parseJson<ControlRequest>(controlRequestSchema, message);
    if (!req || !this.handler) return;
    void this.handler(req)
      .catch((err: Error) => ({ status: 500, body: { error: 'control_failed', message: err.message.slice(0, 200) } }))
      .then((a) =>
        this.run(
          'controlReply',
          () => this.client.publish(this.ch('reply', req.from), JSON.stringify({ id: req.id, ...a })),
          undefined,
        ),
      );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const resolve of this.pending.values()) resolve({ status: 503, body: { error: 'store_closed' } });
    this.client.disconnect();
    this.sub.disconnect();
  }
}
