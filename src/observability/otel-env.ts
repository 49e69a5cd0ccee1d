/**
 * The tracing settings of the environment, by OpenTelemetry's own variable names: tracing is on
 * only when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL) or OTEL_EXPORTER_OTLP_ENDPOINT
 * (a base: `/v1/traces` is appended) is set. OTEL_EXPORTER_OTLP_HEADERS is read by the exporter.
 */
/** A bad tracing variable; the loader turns it into its ConfigError. */
export class OtelEnvError extends Error {}

export interface OtelEnv {
  /** where spans are POSTed (OTLP/HTTP, JSON) */
  tracesUrl: string;
  /** the URL without credentials or query, for the start-up line */
  shownEndpoint: string;
  /** OTEL_SERVICE_NAME (default omni-phone-bridge) */
  serviceName: string;
  /** OTEL_BSP_SCHEDULE_DELAY: how often the batch of finished spans is sent (ms, default 5000) */
  scheduleDelayMs: number;
  /** OTEL_EXPORTER_OTLP_TIMEOUT: the bound on one export (ms, default 10000) */
  exportTimeoutMs: number;
}

function ms(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 600_000)
    throw new OtelEnvError(`${name} must be a whole number of milliseconds from 1 to 600000`);
  return n;
}

function endpointUrl(name: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OtelEnvError(`${name} must be an http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new OtelEnvError(`${name} must be an http:// or https:// URL (OTLP over HTTP; gRPC is not supported)`);
  return url;
}

/** undefined: tracing is off. */
export function readOtelEnv(env: NodeJS.ProcessEnv): OtelEnv | undefined {
  const full = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!full && !base) return undefined;
  const url = full
    ? endpointUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', full)
    : endpointUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base!);
  if (!full) url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return {
    tracesUrl: url.toString(),
    shownEndpoint: `${url.protocol}//${url.host}${url.pathname}`,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || 'omni-phone-bridge',
    scheduleDelayMs: ms(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000),
    exportTimeoutMs: ms(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', 10_000),
  };
}
