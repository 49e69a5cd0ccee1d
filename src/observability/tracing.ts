/**
 * Call traces: OpenTelemetry spans exported over OTLP/HTTP, off unless an endpoint is configured
 * (src/observability/otel-env.ts). Off, nothing of the SDK is loaded and every span is NO_SPAN,
 * so an untraced bridge does no tracing work at all.
 *
 * The call code sees only TraceSpan (child, set, end, traceparent), never an OpenTelemetry type.
 * Spans are batched and exported in the background: the call path only appends a finished span
 * to the batch queue (bounded; full, the span is dropped), so a collector that is down or slow
 * never delays a call. Attributes come from the bridge's own names (agent, route, tool, verb,
 * outcome); string values are passed through the number redaction all the same.
 */
import type { Span, Tracer } from '@opentelemetry/api';
import type { Logger } from './logger.js';
import type { OtelEnv } from './otel-env.js';
import { redactNumbers } from './redact.js';

export type SpanAttrs = Record<string, string | number | boolean | undefined>;

export interface TraceSpan {
  /** the W3C trace id (32 hex digits); undefined when tracing is off */
  readonly traceId: string | undefined;
  /** a span inside this one; `client` for an outgoing request */
  child(name: string, attrs?: SpanAttrs, kind?: 'client'): TraceSpan;
  set(attrs: SpanAttrs): void;
  /** ends the span (once; later calls do nothing); `error`: its status is an error with this message */
  end(error?: string): void;
  /** the `traceparent` header that makes a peer's spans children of this one; undefined when off */
  traceparent(): string | undefined;
}

/** The span of a bridge that does not trace: every method does nothing. */
export const NO_SPAN: TraceSpan = {
  traceId: undefined,
  child: () => NO_SPAN,
  set: () => undefined,
  end: () => undefined,
  traceparent: () => undefined,
};

export interface Tracing {
  readonly enabled: boolean;
  /** the root span of one call */
  startCall(attrs: SpanAttrs): TraceSpan;
  /** exports what is queued (bounded by the export timeout), then stops */
  shutdown(): Promise<void>;
}

export const NO_TRACING: Tracing = {
  enabled: false,
  startCall: () => NO_SPAN,
  shutdown: () => Promise.resolve(),
};

type Api = typeof import('@opentelemetry/api');

/** Identifiers the bridge made or Twilio did (a CallSid has digit runs): exported as they are. */
const IDS: ReadonlySet<string> = new Set(['call.sid']);

/** Attribute values as exported: unset ones dropped, strings bounded and with digit runs masked. */
function clean(attrs: SpanAttrs | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (!attrs) return out;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    out[k] = typeof v !== 'string' ? v : IDS.has(k) ? v.slice(0, 64) : redactNumbers(v.slice(0, 200));
  }
  return out;
}

class OtelSpan implements TraceSpan {
  private ended = false;

  constructor(
    private readonly api: Api,
    private readonly tracer: Tracer,
    private readonly span: Span,
  ) {}

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  child(name: string, attrs?: SpanAttrs, kind?: 'client'): TraceSpan {
    const { api } = this;
    const parent = api.trace.setSpan(api.ROOT_CONTEXT, this.span);
    const spanKind = kind === 'client' ? api.SpanKind.CLIENT : api.SpanKind.INTERNAL;
    return new OtelSpan(
      api,
      this.tracer,
      this.tracer.startSpan(name, { attributes: clean(attrs), kind: spanKind }, parent),
    );
  }

  set(attrs: SpanAttrs): void {
    if (!this.ended) this.span.setAttributes(clean(attrs));
  }

  end(error?: string): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: error.slice(0, 200) });
    this.span.end();
  }

  traceparent(): string {
    const c = this.span.spanContext();
    return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 1) === 1 ? '01' : '00'}`;
  }
}

/** ExportResultCode.SUCCESS of @opentelemetry/core (its only other value is FAILED) */
const SUCCESS = 0;
/** A failed export is said at most once a minute: the collector's trouble must not flood the log. */
const EXPORT_WARN_EVERY_MS = 60_000;

/** The bridge's tracing: NO_TRACING without an endpoint, else an SDK provider with a batching OTLP exporter. */
export async function startTracing(env: OtelEnv | undefined, logger: Logger): Promise<Tracing> {
  if (!env) return NO_TRACING;
  const [api, sdk, otlp, resources] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const exporter = new otlp.OTLPTraceExporter({ url: env.tracesUrl, timeoutMillis: env.exportTimeoutMs });
  let warnedAt = -Infinity;
  const reporting: typeof exporter = Object.create(exporter) as typeof exporter;
  reporting.export = (spans, done) =>
    exporter.export(spans, (result) => {
      if ((result.code as number) !== SUCCESS && Date.now() - warnedAt >= EXPORT_WARN_EVERY_MS) {
        warnedAt = Date.now();
        // the collector's answer is not quoted: it may echo the request's headers
        logger.warn({ spans: spans.length }, 'trace export failed: the spans are dropped (collector down or slow)');
      }
      done(result);
    });
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': env.serviceName }),
    spanProcessors: [
      new sdk.BatchSpanProcessor(reporting, {
        scheduledDelayMillis: env.scheduleDelayMs,
        exportTimeoutMillis: env.exportTimeoutMs,
        maxQueueSize: 2048,
      }),
    ],
  });
  const tracer = provider.getTracer('omni-phone-bridge');
  logger.info({ endpoint: env.shownEndpoint }, 'tracing on: call spans are exported over OTLP/HTTP');
  return {
    enabled: true,
    startCall: (attrs) =>
      new OtelSpan(api, tracer, tracer.startSpan('call', { attributes: clean(attrs), kind: api.SpanKind.SERVER })),
    shutdown: () => provider.shutdown().catch(() => undefined),
  };
}
