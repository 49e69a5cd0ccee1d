import { Counter, Gauge } from 'prom-client';
import type { LoadedConfig } from '../config/loader.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { FleetStore } from '../store/fleet-store.js';
import { openStore, readStoreEnv, type StoreEnv } from '../store/open-store.js';

/** One warning per operation per this long: a Redis outage must not flood the log. */
const ERROR_LOG_EVERY_MS = 10_000;

/**
 * Opens the process's store (Redis with REDIS_URL, else in-process) with its metrics:
 * `bridge_store_errors_total{op}` counts operations that met an unreachable or failing store
 * (each answered from its fallback), `bridge_store_up` is 1 while the store answers.
 */
export async function openFleet(
  config: LoadedConfig,
  logger: Logger,
  metrics: Metrics,
  given?: FleetStore,
  env: StoreEnv = readStoreEnv(),
): Promise<FleetStore> {
  const errors = new Counter({
    name: 'bridge_store_errors_total',
    help: 'Fleet store operations that failed (answered from the fallback), by operation',
    labelNames: ['op'],
    registers: [metrics.registry],
  });
  const lastLog = new Map<string, number>();
  const onError = (op: string, err: Error) => {
    errors.inc({ op });
    const now = Date.now();
    if (now - (lastLog.get(op) ?? 0) < ERROR_LOG_EVERY_MS) return;
    lastLog.set(op, now);
    logger.warn({ op, err: err.message.slice(0, 200) }, 'fleet store unavailable: answering from local state');
  };
  const store = given ?? (await openStore(env, { leaseMs: config.file.bridge.fleet.lease_s * 1000, onError }));
  if (given) given.onError = onError;
  new Gauge({
    name: 'bridge_store_up',
    help: '1 while the fleet store answers (always 1 for the in-process store)',
    registers: [metrics.registry],
    collect() {
      this.set(store.health() === 'ok' ? 1 : 0);
    },
  });
  if (store.shared) {
    logger.info(
      {
        replica: store.replicaId,
        prefix: env.redisKeyPrefix,
        fleetMaxCalls: config.file.bridge.fleet.max_concurrent_calls ?? null,
      },
      'fleet store: Redis (calls, parked conversations and limits are shared by the replicas)',
    );
    if (config.file.bridge.preconnect.enabled)
      logger.info('fleet: pre-connect is off for new calls (the stream may land on another replica than the webhook)');
  }
  return store;
}
