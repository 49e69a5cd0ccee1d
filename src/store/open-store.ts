import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { FleetStore } from './fleet-store.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';

export interface StoreEnv {
  /** REDIS_URL: unset = one replica, in-process store */
  redisUrl?: string;
  /** REDIS_KEY_PREFIX (default `opb:`): every key and channel of this fleet */
  redisKeyPrefix: string;
  /** REPLICA_ID: unset = host-pid-random */
  replicaId?: string;
}

export function readStoreEnv(env: NodeJS.ProcessEnv = process.env): StoreEnv {
  return {
    ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
    redisKeyPrefix: env.REDIS_KEY_PREFIX || 'opb:',
    ...(env.REPLICA_ID ? { replicaId: env.REPLICA_ID.slice(0, 100) } : {}),
  };
}

export function defaultReplicaId(): string {
  return `${hostname().slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * The store this process uses: Redis when REDIS_URL is set (an unreachable one is a start-up
 * error naming REDIS_URL), else the in-process store of a single replica.
 */
export async function openStore(
  e: StoreEnv,
  o: { leaseMs: number; onError?: (op: string, err: Error) => void },
): Promise<FleetStore> {
  const replicaId = e.replicaId ?? defaultReplicaId();
  if (!e.redisUrl) return new MemoryStore(replicaId, o.leaseMs);
  return RedisStore.connect({
    url: e.redisUrl,
    prefix: e.redisKeyPrefix,
    replicaId,
    leaseMs: o.leaseMs,
    ...(o.onError ? { onError: o.onError } : {}),
  });
}
