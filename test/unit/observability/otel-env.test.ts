import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../../../src/config/loader.js';
import { readOtelEnv } from '../../../src/observability/otel-env.js';

describe('tracing settings (OTEL_* variables)', () => {
  it('are off unless an endpoint is set (empty counts as unset)', () => {
    expect(readOtelEnv({})).toBeUndefined();
    expect(readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ', OTEL_SERVICE_NAME: 'x' })).toBeUndefined();
    expect(loadEnv({}).otel).toBeUndefined();
  });

  it('send spans to the base endpoint + /v1/traces, or to the full traces URL, which wins', () => {
    expect(readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      shownEndpoint: 'http://collector:4318/v1/traces',
      serviceName: 'omni-phone-bridge',
      scheduleDelayMs: 5000,
      exportTimeoutMs: 10_000,
    });
    const both = readOtelEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b.example/otlp/traces',
      OTEL_SERVICE_NAME: 'bridge-eu',
      OTEL_BSP_SCHEDULE_DELAY: '250',
      OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
    });
    expect(both).toMatchObject({
      tracesUrl: 'https://b.example/otlp/traces',
      serviceName: 'bridge-eu',
      scheduleDelayMs: 250,
      exportTimeoutMs: 3000,
    });
  });

  it('the endpoint shown at start-up carries no credentials or query', () => {
    const env = readOtelEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://user:s3cret@c.example/v1/traces?key=k3y' });
    expect(env?.shownEndpoint).toBe('https://c.example/v1/traces');
  });

  it('refuses a bad endpoint or number through the loader, naming the variable (gRPC is not supported)', () => {
    for (const [name, value, why] of [
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4317', /OTEL_EXPORTER_OTLP_ENDPOINT must be an http/],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'grpc://c:4317', /gRPC is not supported/],
      ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'not a url', /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/],
    ] as const)
      expect(() => loadEnv({ [name]: value }), value).toThrow(why);
    for (const v of ['soon', '0', '-5', '1.5', '600001'])
      expect(() => loadEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_BSP_SCHEDULE_DELAY: v })).toThrow(
        ConfigError,
      );
  });
});
