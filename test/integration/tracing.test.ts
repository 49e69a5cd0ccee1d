/**
 * Call traces over OTLP/HTTP: a simulated call on the offline stack, traced to a collector stub on
 * loopback (test/helpers/otlp-collector.ts). The call's spans arrive as one trace (the call, its
 * engine connect, each tool call with the webhook's request under it, the transfer), the webhook
 * receiver gets the trace context, and nothing the caller said or dialled is in an attribute.
 * Without an endpoint nothing is traced; a collector that is down or never answers holds no call.
 */
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/sim/engine/index.js';
import { freePort } from '../../src/sim/stack.js';
import { AGENT_NUMBER, CALLER_NUMBER, testConfig, toneVoice } from '../helpers/control.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { startCollector, type CollectedSpan, type Collector } from '../helpers/otlp-collector.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
}, 30_000);

/** A webhook receiver that answers every request and keeps its headers. */
async function receiver(): Promise<{ url: string; headers: http.IncomingHttpHeaders[] }> {
  const headers: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      headers.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"shipped"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`, headers };
}

// tool secrets are read from the process environment, as in production
const SIGNING = 'trace-test-signing-8c1d2e3f';
process.env.TOOL_SECRET_OPB_TRACE_TEST = SIGNING;

/** A caller's order number and phone number, as the attacker would put them in a tool's arguments. */
const CARD = '4111111111111111';
const TRANSFER_STEPS = (withTools: boolean): unknown[] => [
  ...(withTools
    ? [
        { tool_call: { name: 'find_order', arguments: { order_id: CARD, phone: CALLER_NUMBER }, call_id: 't1' } },
        { tool_call: { name: 'stock', arguments: {}, call_id: 't2' } },
      ]
    : []),
  { say: 'Transferring you now.' },
  { verb: 'transfer_to_human', args: { destination: 'billing' }, call_id: 'x1', await_result: true },
];

async function tracedStack(env: Record<string, string>, hookUrl: string, steps: unknown[]): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'opb-trace-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'stock.js'), 'export default async () => ({ left: 3 });\n');
  const tools = [
    {
      name: 'find_order',
      description: 'Finds an order.',
      side_effect: 'read',
      parameters: { type: 'object', properties: { order_id: { type: 'string' }, phone: { type: 'string' } } },
      executor: { kind: 'http', url: hookUrl, method: 'POST', signing_secret_env: 'TOOL_SECRET_OPB_TRACE_TEST' },
    },
    {
      name: 'stock',
      description: 'Says what is in stock.',
      side_effect: 'read',
      parameters: { type: 'object', properties: {} },
      executor: { kind: 'module', module: './stock.js' },
    },
  ];
  const h = await startHarness({
    configText: JSON.stringify(testConfig({ agent: { tools }, bridge: { tool_allow_hosts: ['127.0.0.1'] } })),
    configDir: dir,
    engine: { scenario: parseScenario({ name: 'traced', steps }), tts: toneVoice },
    human: { answer: 'answer', ringMs: 200, talkMs: 300 },
    env,
  });
  return h;
}

const byName = (spans: CollectedSpan[], name: string): CollectedSpan[] => spans.filter((s) => s.name === name);
const one = (spans: CollectedSpan[], name: string): CollectedSpan => {
  const found = byName(spans, name);
  expect(
    found.map((s) => s.name),
    `one span ${name} among ${spans.map((s) => s.name).join(', ')}`,
  ).toHaveLength(1);
  return found[0]!;
};

describe('call traces (OTLP/HTTP)', () => {
  it('exports one trace per call: the call, its voice webhook, its engine connect, each tool (the webhook request under it), the transfer; the webhook gets traceparent', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    const hook = await receiver();
    const h = await tracedStack(
      { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50' },
      hook.url,
      TRANSFER_STEPS(true),
    );
    expect(h.bridge.tracing.enabled).toBe(true);
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 15_000 });
    await call.done;
    await waitFor(() => h.records.length === 1, 10_000);
    await h.close(); // flushes what is still queued
    const record = h.records[0]!;
    expect(record.outcome).toBe('transferred');
    expect(record.traceId).toMatch(/^[0-9a-f]{32}$/);

    const spans = collector.spans;
    // every span of the call is in the call's trace
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([record.traceId]));
    const root = one(spans, 'call');
    expect(root.parentSpanId).toBe('');
    expect(root.attributes).toMatchObject({
      'call.sid': call.callSid,
      'call.agent': 'support',
      'call.route': '_unnamed',
      'call.outcome': 'transferred',
    });
    expect(root.resource['service.name']).toBe('omni-phone-bridge');

    // the voice webhook (pre-connected: the engine is opened while Twilio waits for the answer)
    const webhook = one(spans, 'twilio.voice_webhook');
    expect(webhook.parentSpanId).toBe(root.spanId);
    expect(webhook.attributes['webhook.answered_on']).toMatch(/^(engine_ready|wait_over)$/);

    const connect = one(spans, 'engine.connect');
    expect(connect.parentSpanId).toBe(root.spanId);
    expect(connect.status.code ?? 0).not.toBe(2);

    const webhookTool = one(spans, 'tool find_order');
    expect(webhookTool.parentSpanId).toBe(root.spanId);
    expect(webhookTool.attributes).toMatchObject({ 'tool.executor': 'http', 'tool.outcome': 'ok' });
    const request = one(spans, 'webhook POST');
    expect(request.parentSpanId).toBe(webhookTool.spanId);
    expect(request.attributes).toMatchObject({ 'http.response.status_code': 200, 'server.address': '127.0.0.1' });
    // the receiver's spans would be children of the request's span
    expect(hook.headers.map((x) => x.traceparent)).toEqual([`00-${record.traceId}-${request.spanId}-01`]);

    const local = one(spans, 'tool stock');
    expect(local.attributes).toMatchObject({ 'tool.executor': 'module', 'tool.outcome': 'ok' });
    const transfer = one(spans, 'verb transfer_to_human');
    expect(transfer.parentSpanId).toBe(root.spanId);
    expect(transfer.attributes).toMatchObject({ 'verb.result': 'started' });

    // the attacker's digits (a card number, the caller's number), and the signing secret, are in no attribute
    const values = JSON.stringify(spans.map((s) => s.attributes));
    for (const secret of [SIGNING, CARD, CALLER_NUMBER, CALLER_NUMBER.slice(1), AGENT_NUMBER.slice(1)])
      expect(values).not.toContain(secret);
    // and the call's log lines carry its trace id
    const ended = h.logs.find('call ended');
    expect(ended.map((l) => l.traceId)).toEqual([record.traceId]);
  }, 40_000);

  it('without an OTLP endpoint nothing is traced: no exporter, no trace id in the record or the logs, no traceparent', async () => {
    const hook = await receiver();
    const h = await tracedStack({}, hook.url, TRANSFER_STEPS(true));
    cleanups.push(() => h.close());
    expect(h.bridge.tracing.enabled).toBe(false);
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 15_000 });
    await call.done;
    await waitFor(() => h.records.length === 1, 10_000);
    expect(h.records[0]!.outcome).toBe('transferred');
    expect(h.records[0]!.traceId).toBeUndefined();
    expect(hook.headers).toHaveLength(1);
    expect(hook.headers[0]!.traceparent).toBeUndefined();
    expect(h.logs.text()).not.toContain('traceId');
  }, 40_000);

  it('a collector that never answers holds no call: the caller hangs up while the exports hang, and the call ends', async () => {
    const collector: Collector = await startCollector('hang');
    cleanups.push(() => collector.close());
    const hook = await receiver();
    const h = await tracedStack(
      // an export may wait a minute for the collector: the call must not
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '20',
        OTEL_EXPORTER_OTLP_TIMEOUT: '60000',
      },
      hook.url,
      // the tools' spans end early; then the caller is on hold for as long as the test needs
      [
        { tool_call: { name: 'stock', arguments: {}, call_id: 't2' } },
        { say: 'One moment please.' },
        { verb: 'play_hold', args: { seconds: 30 }, call_id: 'h1', await_result: true },
        { wait_ms: 30_000 },
      ],
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 40_000 });
    // an export is in flight, unanswered, while the call is up (its stream attached: a hang-up
    // before that would be a call that never connected, whatever the exports do)...
    await waitFor(() => h.bridge.ctx.registry.list().some((s) => s.hasStream), 20_000);
    await waitFor(() => collector.unanswered >= 1, 20_000);
    expect(h.records).toHaveLength(0);
    // ...and the call still ends the moment the caller hangs up
    call.hangup();
    await call.done;
    await waitFor(() => h.records.length === 1, 10_000);
    expect(h.records[0]!.outcome).toBe('caller_hangup');
    expect(collector.unanswered).toBe(collector.requests); // none was ever answered
    // the stop waits for the last export only within its own bound
    await h.close();
  }, 60_000);

  it('a collector that is down holds no call: the call ends as usual and the failed export is said once', async () => {
    const downPort = await freePort(); // nothing listens there
    const hook = await receiver();
    const h = await tracedStack(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${downPort}`,
        OTEL_BSP_SCHEDULE_DELAY: '20',
        OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      },
      hook.url,
      TRANSFER_STEPS(false),
    );
    cleanups.push(() => h.close());
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 15_000 });
    await call.done;
    await waitFor(() => h.records.length === 1, 10_000);
    expect(h.records[0]!.outcome).toBe('transferred');
    await waitFor(() => h.logs.find(/trace export failed/).length > 0, 10_000);
    expect(h.logs.find(/trace export failed/)).toHaveLength(1);
  }, 40_000);
});
