/**
 * The per-agent metrics' label values come from the configuration only. A bridge is flooded with
 * values an attacker (or a confused peer) chooses — dialled and calling numbers, agent ids in the
 * outbound webhook's query, tool names and close codes from the engine, SIP request URIs and
 * headers — and every series it then exports is checked: no attacker value is a label value, the
 * per-agent labels are configured names or the fixed fallbacks, and the number of series does not
 * grow with the number of distinct values sent.
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { janitor, SALES_NUMBER, SUPPORT_NUMBER, startBridgeStack, type BridgeStack } from '../helpers/bridge-stack.js';
import { startHandEngine } from '../helpers/fake-engines.js';
import { waitFor } from '../helpers/harness.js';
import { postSigned, postVoice, sid } from '../helpers/raw-twilio.js';
import { closeCodeLabel } from '../../src/omni/close-policy.js';

const j = janitor();
afterEach(() => j.closeAll());

const HOST = '127.0.0.1';
/** the one tool the file gives the support agent (the module the harness's config directory has) */
const ORDER_TOOL = {
  name: 'get_order_status',
  description: 'Order status by number.',
  side_effect: 'read',
  timeout_ms: 2000,
  parameters: { type: 'object', properties: { order_id: { type: 'string' } }, additionalProperties: false },
  executor: { kind: 'module', module: './tools/get_order_status.js' },
};
const hex = (n: number) => randomBytes(n).toString('hex');
/** A number nobody configured: +1999 and 8 random digits. */
const strangeNumber = () => `+1999${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

/** Metrics whose series are per agent and route (src/observability/metrics.ts, src/tools/metrics.ts). */
const PER_AGENT = [
  'bridge_calls_total',
  'bridge_transfers_total',
  'bridge_voice_to_voice_seconds',
  'bridge_engine_reconnects_total',
  'bridge_playout_underruns_total',
  'bridge_playout_underrun_seconds_total',
  'bridge_tool_calls_total',
  'bridge_tool_errors_total',
  'bridge_tool_duration_seconds',
  'bridge_tool_retries_total',
];

interface Series {
  metric: string;
  labels: Record<string, string>;
}

/** Every series the bridge exports (histogram buckets folded: `le` is the registry's own). */
async function allSeries(h: BridgeStack): Promise<Series[]> {
  const out: Series[] = [];
  for (const m of await h.bridge.ctx.metrics.registry.getMetricsAsJSON()) {
    if (!m.name.startsWith('bridge_')) continue; // process_* / nodejs_*: the runtime's, no labels of ours
    for (const v of m.values as { labels: Record<string, string | number> }[]) {
      const labels = Object.fromEntries(
        Object.entries(v.labels)
          .filter(([k]) => k !== 'le')
          .map(([k, x]) => [k, String(x)]),
      );
      out.push({ metric: m.name, labels });
    }
  }
  const seen = new Set<string>();
  return out.filter((s) => {
    const key = `${s.metric}${JSON.stringify(s.labels)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** One round of hostile input; every value it sends is added to `sent`. */
async function flood(h: BridgeStack, sipPort: number, sent: string[], n: number): Promise<void> {
  const t = h.target;
  const posts: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const to = strangeNumber();
    const from = strangeNumber();
    sent.push(to, from);
    // a new call to a number nobody configured, from anyone: the default agent, route _default
    posts.push(postVoice(t, { callSid: sid('CA'), to, from }));
    // an outbound webhook naming an agent nobody configured
    const agent = `agent${hex(6)}`;
    sent.push(agent);
    posts.push(
      postSigned(t, `/twilio/outbound?agent=${agent}`, {
        AccountSid: t.accountSid,
        ApiVersion: '2010-04-01',
        CallSid: sid('CA'),
        CallStatus: 'in-progress',
        Direction: 'outbound-api',
        From: from,
        To: to,
      }),
    );
  }
  // configured numbers too: their routes' names (one named, one not) are the only route values
  posts.push(postVoice(t, { callSid: sid('CA'), to: SUPPORT_NUMBER, from: strangeNumber() }));
  posts.push(postVoice(t, { callSid: sid('CA'), to: SALES_NUMBER, from: strangeNumber() }));
  await Promise.all(posts);

  // SIP: INVITEs from the configured trunk's source with numbers, URIs and headers of our choosing
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
  const myPort = sock.address().port;
  for (let i = 0; i < n; i++) {
    const user = i % 2 ? strangeNumber() : `user${hex(5)}`;
    const header = `X-${hex(4)}`;
    const value = `v${hex(8)}`;
    const callId = `c${hex(8)}`;
    sent.push(user, header, value, callId);
    const msg = [
      `INVITE sip:${user}@${HOST}:${sipPort} SIP/2.0`,
      `Via: SIP/2.0/UDP ${HOST}:${myPort};branch=z9hG4bK-${callId};rport`,
      `From: <sip:${strangeNumber()}@${HOST}>;tag=t${callId}`,
      `To: <sip:${user}@${HOST}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `${header}: ${value}`,
      `User-Agent: ${value}`,
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    sock.send(msg, sipPort, HOST);
  }
  // and garbage on the SIP port
  for (let i = 0; i < n; i++) sock.send(`${hex(6)} sip:${hex(4)} SIP/2.0\r\n\r\n`, sipPort, HOST);
  await new Promise<void>((r) => setTimeout(r, 200)).then(() => sock.close());
}

describe('metrics: label values come from the configuration only', () => {
  it('a flood of attacker-chosen numbers, agent ids, engine tool names and close codes, and SIP headers adds no series of their values', async () => {
    const toolNames: string[] = [];
    const closeCodes: number[] = [];
    // Every engine session asks for tools of made-up names, then drops with a code of its choosing.
    const engine = j.track(
      await startHandEngine((s) => {
        s.event({ event: 'tool_call', call_id: `tc${hex(4)}`, name: 'get_order_status', arguments: {} });
        for (let i = 0; i < 4; i++) {
          const name = `tool${hex(6)}`;
          toolNames.push(name);
          s.event({ event: 'tool_call', call_id: `tc${hex(4)}`, name, arguments: {} });
        }
        // a code of the engine's own choosing: one the protocol names (4401, 4403, 4429) is a real label
        let code: number;
        do code = 3000 + Math.floor(Math.random() * 1999);
        while (closeCodeLabel(code) !== 'other');
        closeCodes.push(code);
        setTimeout(() => s.ws.close(code), 50);
      }),
    );
    const rtp = 30000 + 2 * Math.floor(Math.random() * 10000);
    const h = j.track(
      await startBridgeStack({
        support: { engine: { base_url: engine.url, max_reconnects: 1 }, tools: [ORDER_TOOL] },
        sales: { engine: { base_url: engine.url, max_reconnects: 1 } },
        bridge: { preconnect: { enabled: true, stream_timeout_ms: 1000, answer_wait_ms: 0 } },
        env: { SIP_PORT: '0', SIP_HOST: HOST, RTP_PORT_MIN: String(rtp), RTP_PORT_MAX: String(rtp + 3) },
        tweak: (cfg) => {
          cfg.file.numbers[SUPPORT_NUMBER]!.name = 'support-line';
          cfg.file.sip = {
            trunks: [{ name: 'loopback', allow: ['127.0.0.1/32'], transfer: 'refer' }],
            answer_wait_ms: 1000,
            media_timeout_s: 5,
          };
        },
      }),
    );
    const sipPort = h.bridge.sip!.port;
    const sent: string[] = [];

    await flood(h, sipPort, sent, 10);
    // every session opened by the flood has ended (no stream came: each is bounded by stream_timeout_ms)
    await waitFor(() => h.bridge.ctx.registry.size === 0, 20_000, 50);
    const first = await allSeries(h);

    await flood(h, sipPort, sent, 20);
    await waitFor(() => h.bridge.ctx.registry.size === 0, 20_000, 50);
    const series = await allSeries(h);

    // the hostile values were really seen by the bridge (the flood reached the code under test)
    expect(toolNames.length).toBeGreaterThanOrEqual(8);
    expect(closeCodes.length).toBeGreaterThanOrEqual(2);
    expect(h.records.length).toBeGreaterThanOrEqual(20);

    const hostile = [...sent, ...toolNames, ...closeCodes.map(String)];
    const digits = (s: string) => s.replace(/\D/g, '');
    for (const s of series)
      for (const v of Object.values(s.labels)) {
        expect(hostile, `${s.metric} ${JSON.stringify(s.labels)}`).not.toContain(v);
        // no label value holds a number's digits, however written
        if (digits(v).length >= 7)
          expect(sent.map(digits), `${s.metric} ${JSON.stringify(s.labels)}`).not.toContain(digits(v));
      }

    const agents = new Set(['support', 'sales', '_unknown', '_none']);
    const routes = new Set(['support-line', '_unnamed', '_default', 'loopback']);
    const perAgent = series.filter((s) => PER_AGENT.includes(s.metric));
    expect(perAgent.length).toBeGreaterThan(0);
    for (const s of perAgent) {
      expect(agents, `${s.metric} ${JSON.stringify(s.labels)}`).toContain(s.labels.agent);
      expect(routes, `${s.metric} ${JSON.stringify(s.labels)}`).toContain(s.labels.route);
    }
    // the call outcomes were counted per configured route, the unnamed one under _unnamed
    const callRoutes = new Set(series.filter((s) => s.metric === 'bridge_calls_total').map((s) => s.labels.route));
    expect(callRoutes).toContain('support-line');
    expect(callRoutes).toContain('_unnamed');
    expect(callRoutes).toContain('_default');
    // tools the engine invented are one series per agent and route, whatever their number
    const tools = new Set(series.filter((s) => s.metric === 'bridge_tool_calls_total').map((s) => s.labels.tool));
    expect([...tools].sort()).toEqual(['_unknown', 'get_order_status']);
    const codes = series.filter((s) => s.metric === 'bridge_engine_closes_total').map((s) => s.labels.code);
    expect(codes).toContain('other');

    // Round 2 sent 20 new values of each kind: a label that took them would have 20 values or more.
    // Each label has a handful (configured names, fixed fallbacks, the bridge's own outcome names).
    const values = new Map<string, Set<string>>();
    for (const s of series)
      for (const [k, v] of Object.entries(s.labels)) {
        const key = `${s.metric}{${k}}`;
        values.set(key, (values.get(key) ?? new Set()).add(v));
      }
    for (const [key, vs] of values) expect(vs.size, `${key}: ${[...vs].join(', ')}`).toBeLessThan(16);
    console.log(
      `metrics-cardinality: ${first.length} series after round 1 (10 of each value), ${series.length} after round 2 (20 more)`,
    );
  }, 90_000);
});
