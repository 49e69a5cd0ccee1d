/**
 * A tiny OTLP/HTTP trace collector on loopback: it takes `POST /v1/traces` (OTLP JSON, as
 * @opentelemetry/exporter-trace-otlp-http sends it) and keeps the spans, flattened. `mode: 'hang'`
 * reads each request and never answers it (a collector that is slow without end).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  /** the span's attributes, their values unwrapped (stringValue, intValue as a number, boolValue) */
  attributes: Record<string, string | number | boolean>;
  /** 2: error (OTLP's STATUS_CODE_ERROR) */
  status: { code?: number; message?: string };
  /** the resource's attributes (service.name…) */
  resource: Record<string, string | number | boolean>;
}

export interface Collector {
  /** the base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it */
  endpoint: string;
  spans: CollectedSpan[];
  /** export requests received */
  requests: number;
  /** requests received and not answered (mode hang) */
  unanswered: number;
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}

const unwrap = (kvs: KeyValue[] | undefined): Record<string, string | number | boolean> =>
  Object.fromEntries(
    (kvs ?? []).map(({ key, value: v }) => [
      key,
      v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue ?? '')),
    ]),
  );

export async function startCollector(mode: 'ok' | 'hang' = 'ok'): Promise<Collector> {
  const c: Omit<Collector, 'endpoint' | 'close'> = { spans: [], requests: 0, unanswered: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', () => {
      c.requests++;
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans?: {
          resource?: { attributes?: KeyValue[] };
          scopeSpans?: { spans?: (Omit<CollectedSpan, 'attributes' | 'resource'> & { attributes?: KeyValue[] })[] }[];
        }[];
      };
      for (const rs of body.resourceSpans ?? []) {
        const resource = unwrap(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? [])
            c.spans.push({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              name: s.name,
              kind: s.kind,
              attributes: unwrap(s.attributes),
              status: s.status ?? {},
              resource,
            });
      }
      if (mode === 'hang') {
        c.unanswered++;
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(c, {
    endpoint: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
}
