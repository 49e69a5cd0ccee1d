import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_OUTPUT_BYTES } from '../../../src/tools/truncate.js';
import { at, defined } from '../../helpers/checked.js';
import { aborted } from './fixtures/tools.js';
import { harness, moduleTool, sleep, type Harness } from './helpers.js';

const size = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

let open: Harness[] = [];
async function make(...args: Parameters<typeof harness>): Promise<Harness> {
  const h = await harness(...args);
  open.push(h);
  return h;
}
afterEach(() => {
  for (const h of open) {
    h.runtime.abortAll();
    h.registry.close();
  }
  open = [];
});

describe('ToolRuntime: answers', () => {
  it('runs a tool and answers once with call id, name and the result', async () => {
    const h = await make([moduleTool('echo_it', 'echo')]);
    h.runtime.handle({ callId: 'c1', name: 'echo_it', arguments: { a: 1 } });
    const answer = at(await h.waitFor(1), 0, 'answers');
    expect(answer.callId).toBe('c1');
    expect(answer.name).toBe('echo_it');
    expect(answer.output).toEqual({
      args: { a: 1 },
      callSid: 'CA00000000000000000000000000000001',
      agentId: 'support',
    });
    await sleep(20);
    expect(h.sent).toHaveLength(1);
    expect(h.finished).toEqual([expect.objectContaining({ tool: 'echo_it', outcome: 'ok', retried: false })]);
    expect(h.runtime.running).toBe(0);
  });

  it('accepts arguments as a JSON string and treats missing arguments as an empty object', async () => {
    const h = await make([moduleTool('echo_it', 'echo')]);
    h.runtime.handle({ callId: 'c1', name: 'echo_it', arguments: '{"order_id":"4417"}' });
    h.runtime.handle({ callId: 'c2', name: 'echo_it', arguments: undefined });
    const sent = await h.waitFor(2);
    const byId = Object.fromEntries(sent.map((s) => [s.callId, s.output as { args: unknown }]));
    expect(defined(byId.c1, 'answer to c1').args).toEqual({ order_id: '4417' });
    expect(defined(byId.c2, 'answer to c2').args).toEqual({});
  });

  it('answers unknown_tool with the (bounded) name', async () => {
    const h = await make([moduleTool('echo_it', 'echo')]);
    h.runtime.handle({ callId: 'c1', name: 'make_coffee', arguments: {} });
    h.runtime.handle({ callId: 'c2', name: 'x'.repeat(5000), arguments: {} });
    const sent = await h.waitFor(2);
    expect(at(sent, 0, 'answers').output).toEqual({ error: 'unknown_tool', name: 'make_coffee' });
    expect(size(at(sent, 1, 'answers').output)).toBeLessThan(300);
    expect(h.finished.map((f) => f.outcome)).toEqual(['unknown_tool', 'unknown_tool']);
  });

  it('answers invalid_arguments for bad JSON, non-objects and schema violations, without running the tool', async () => {
    const h = await make([
      moduleTool('create_thing', 'sleep', {
        side_effect: 'action',
        parameters: {
          type: 'object',
          properties: { ms: { type: 'integer', minimum: 0 }, tag: { type: 'string' } },
          required: ['ms'],
          additionalProperties: false,
        },
      }),
    ]);
    h.runtime.handle({ callId: 'json', name: 'create_thing', arguments: '{"ms": 1,' });
    h.runtime.handle({ callId: 'array', name: 'create_thing', arguments: [1, 2] });
    h.runtime.handle({ callId: 'schema', name: 'create_thing', arguments: { tag: 5, extra: true } });
    const sent = await h.waitFor(3);
    const byId = Object.fromEntries(
      sent.map((s) => [s.callId, s.output as { error: string; details: Array<{ path: string; message: string }> }]),
    );
    expect(byId.json).toEqual({
      error: 'invalid_arguments',
      details: [{ path: '/', message: 'arguments are not valid JSON' }],
    });
    expect(at(defined(byId.array, 'answer to array').details, 0, 'details').message).toBe(
      'arguments must be a JSON object',
    );
    const schema = defined(byId.schema, 'answer to schema');
    expect(schema.error).toBe('invalid_arguments');
    const messages = schema.details.map((d) => `${d.path} ${d.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        "/ must have required property 'ms'",
        '/ must NOT have additional properties (extra)',
        '/tag must be string',
      ]),
    );
    expect(h.runtime.running).toBe(0);
  });

  it('bounds the schema error list', async () => {
    const properties = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, { type: 'string' }]));
    const h = await make([
      moduleTool('many', 'echo', { parameters: { type: 'object', properties, required: Object.keys(properties) } }),
    ]);
    h.runtime.handle({ callId: 'c1', name: 'many', arguments: {} });
    const answer = at(await h.waitFor(1), 0, 'answers');
    const details = (answer.output as { details: unknown[] }).details;
    expect(details.length).toBe(9);
    expect(details[8]).toEqual({ path: '/', message: '32 more error(s)' });
  });
});

describe('ToolRuntime: budget', () => {
  // The lower bounds are exact (a timer never fires early). The upper bounds only separate the
  // budget that must fire from the one that must not (the tool's own answer, a longer timeout),
  // with seconds between them: how punctual timers are on a loaded machine is not the claim.
  it('answers exactly {"error":"tool timed out"} at the budget, aborts the work and drops the late result', async () => {
    const h = await make([
      moduleTool('slow', 'sleep', { timeout_ms: 300 }),
      moduleTool('deaf', 'stubborn', { timeout_ms: 300 }),
    ]);
    const t0 = performance.now();
    h.runtime.handle({ callId: 'c1', name: 'slow', arguments: { ms: 4000, tag: 'budget-1' } });
    h.runtime.handle({ callId: 'c2', name: 'deaf', arguments: { ms: 2500 } });
    const sent = await h.waitFor(2);
    for (const s of sent) {
      expect(JSON.stringify(s.output)).toBe('{"error":"tool timed out"}');
      expect(s.at - t0).toBeGreaterThanOrEqual(299);
      expect(s.at - t0).toBeLessThan(2000); // before either tool's own answer
    }
    expect(aborted).toContain('budget-1');
    // the stubborn tool answers at 2500 ms anyway: that answer is logged and dropped, never sent
    await vi.waitFor(() => expect(h.log.text()).toContain('late tool result discarded'), {
      timeout: 8000,
      interval: 50,
    });
    expect(h.sent).toHaveLength(2);
    expect(h.finished.map((f) => f.outcome)).toEqual(['timeout', 'timeout']);
  });

  it('times out at the default 5000 ms budget', async () => {
    const h = await make([moduleTool('slow', 'sleep')]);
    const t0 = performance.now();
    h.runtime.handle({ callId: 'c1', name: 'slow', arguments: { ms: 9000, tag: 'budget-5000' } });
    const answer = at(await h.waitFor(1, 9000), 0, 'answers');
    const elapsed = answer.at - t0;
    expect(answer.output).toEqual({ error: 'tool timed out' });
    expect(elapsed).toBeGreaterThanOrEqual(4999);
    expect(elapsed).toBeLessThan(8000); // the tool itself would have answered at 9000
    expect(aborted).toContain('budget-5000');
  }, 12_000);

  it('uses the ceiling when it is lower than the tool timeout', async () => {
    const h = await make([moduleTool('slow', 'sleep', { timeout_ms: 10000 })], { ceilingMs: 150 });
    const t0 = performance.now();
    h.runtime.handle({ callId: 'c1', name: 'slow', arguments: { ms: 3000 } });
    const answer = at(await h.waitFor(1), 0, 'answers');
    expect(answer.output).toEqual({ error: 'tool timed out' });
    expect(answer.at - t0).toBeGreaterThanOrEqual(149);
    expect(answer.at - t0).toBeLessThan(2500); // the ceiling, not the tool's 10 s nor its 3 s answer
  });
});

describe('ToolRuntime: size', () => {
  it('passes an output of exactly 6144 serialized bytes and truncates one byte more', async () => {
    const h = await make([moduleTool('raw', 'raw')]);
    const atLimit = 'a'.repeat(MAX_OUTPUT_BYTES - 2); // + 2 quotes
    h.runtime.handle({ callId: 'at', name: 'raw', arguments: { value: atLimit } });
    h.runtime.handle({ callId: 'over', name: 'raw', arguments: { value: `${atLimit}é` } });
    const sent = await h.waitFor(2);
    const byId = Object.fromEntries(sent.map((s) => [s.callId, s.output]));
    expect(byId.at).toBe(atLimit);
    const over = byId.over as { truncated: boolean; bytes: number; preview: string };
    expect(over.truncated).toBe(true);
    expect(over.bytes).toBe(MAX_OUTPUT_BYTES + 2);
    expect(size(over)).toBeLessThanOrEqual(MAX_OUTPUT_BYTES);
  });

  it('truncates a large result into valid JSON under the cap', async () => {
    const h = await make([moduleTool('big', 'big')]);
    h.runtime.handle({ callId: 'c1', name: 'big', arguments: { unit: '日本', count: 10000 } });
    const answer = at(await h.waitFor(1), 0, 'answers');
    const out = answer.output as { truncated: boolean; bytes: number; preview: string };
    expect(out.truncated).toBe(true);
    expect(out.bytes).toBe(size({ text: '日本'.repeat(10000) }));
    expect(size(out)).toBeLessThanOrEqual(MAX_OUTPUT_BYTES);
    expect(out.preview.startsWith('{"text":"日本日本')).toBe(true);
  });
});

describe('ToolRuntime: concurrency and hang-up', () => {
  it('answers concurrent calls once each, in the order they finish', async () => {
    const h = await make([moduleTool('slow', 'sleep')]);
    h.runtime.handle({ callId: 'c150', name: 'slow', arguments: { ms: 150 } });
    h.runtime.handle({ callId: 'c10', name: 'slow', arguments: { ms: 10 } });
    h.runtime.handle({ callId: 'c80', name: 'slow', arguments: { ms: 80 } });
    expect(h.runtime.running).toBe(3);
    const sent = await h.waitFor(3);
    expect(sent.map((s) => s.callId)).toEqual(['c10', 'c80', 'c150']);
    expect(sent.map((s) => (s.output as { slept: number }).slept)).toEqual([10, 80, 150]);
    await sleep(30);
    expect(h.sent).toHaveLength(3);
  });

  it('aborts running tools on hang-up and never sends afterwards', async () => {
    const h = await make([moduleTool('slow', 'sleep', { timeout_ms: 400 })]);
    h.runtime.handle({ callId: 'c1', name: 'slow', arguments: { ms: 300, tag: 'hangup-1' } });
    h.runtime.handle({ callId: 'c2', name: 'slow', arguments: { ms: 300, tag: 'hangup-2' } });
    await sleep(30);
    h.runtime.abortAll();
    expect(aborted).toEqual(expect.arrayContaining(['hangup-1', 'hangup-2']));
    expect(h.runtime.running).toBe(0);
    h.runtime.handle({ callId: 'c3', name: 'slow', arguments: { ms: 1 } });
    await sleep(500); // past both the work and the budget
    expect(h.sent).toHaveLength(0);
    expect(h.finished.map((f) => f.outcome)).toEqual(['aborted', 'aborted']);
  });

  it('ignores a duplicate call id while the first is running and answers once', async () => {
    const h = await make([moduleTool('slow', 'sleep')]);
    h.runtime.handle({ callId: 'dup', name: 'slow', arguments: { ms: 60, tag: 'first' } });
    h.runtime.handle({ callId: 'dup', name: 'slow', arguments: { ms: 5, tag: 'second' } });
    const answer = at(await h.waitFor(1), 0, 'answers');
    expect((answer.output as { tag: string }).tag).toBe('first');
    await sleep(80);
    expect(h.sent).toHaveLength(1);
    expect(h.log.text()).toContain('duplicate tool call id');
  });
});

describe('ToolRuntime: failures', () => {
  it('turns a thrown error into a short tool_failed without stack or secret', async () => {
    process.env.TOOL_TEST_SECRET = 'hunter2-very-secret';
    try {
      const webhook = {
        name: 'remote',
        description: 'needs a secret',
        parameters: { type: 'object' },
        timeout_ms: 1000,
        side_effect: 'read' as const,
        executor: {
          kind: 'http' as const,
          url: 'http://127.0.0.1:9/x',
          method: 'POST' as const,
          auth_header: 'Authorization',
          auth_secret_env: 'TOOL_TEST_SECRET',
        },
      };
      const h = await make([moduleTool('broken', 'fails'), moduleTool('weird', 'throwsString'), webhook], {
        env: process.env,
        allowHosts: ['127.0.0.1'],
      });
      h.runtime.handle({ callId: 'c1', name: 'broken', arguments: {} });
      h.runtime.handle({ callId: 'c2', name: 'weird', arguments: {} });
      const sent = await h.waitFor(2);
      const byId = Object.fromEntries(sent.map((s) => [s.callId, s.output]));
      expect(byId.c1).toEqual({ error: 'tool_failed', message: 'db down: password=[redacted]' });
      expect(byId.c2).toEqual({ error: 'tool_failed', message: 'plain string failure' });
      expect(h.log.text()).not.toContain('hunter2-very-secret');
      expect(h.log.text()).not.toContain('stack/trace');
    } finally {
      delete process.env.TOOL_TEST_SECRET;
    }
  });

  it('reports a result that cannot be serialized, and sends null for a result of undefined', async () => {
    const h = await make([moduleTool('bad', 'bigint'), moduleTool('none', 'returnsNothing')]);
    h.runtime.handle({ callId: 'c1', name: 'bad', arguments: {} });
    h.runtime.handle({ callId: 'c2', name: 'none', arguments: {} });
    const sent = await h.waitFor(2);
    const byId = Object.fromEntries(sent.map((s) => [s.callId, s.output]));
    expect(byId.c1).toEqual({ error: 'tool_failed', message: 'result is not JSON-serializable' });
    expect(byId.c2).toBeNull();
  });

  it('survives a send that throws and an observer that throws', async () => {
    const h = await make([moduleTool('echo_it', 'echo')], {
      send: () => {
        throw new Error('socket closed');
      },
      observer: {
        onToolFinished: () => {
          throw new Error('observer bug');
        },
      },
    });
    expect(() => h.runtime.handle({ callId: 'c1', name: 'echo_it', arguments: {} })).not.toThrow();
    await h.waitFor(1);
    await sleep(5);
    expect(h.log.text()).toContain('tool_result could not be sent');
    expect(h.log.text()).toContain('tool observer threw');
  });
});

describe('ToolRuntime: logging', () => {
  it('logs one line per call with outcome and duration, arguments redacted unless debugArgs', async () => {
    const h = await make([moduleTool('echo_it', 'echo')]);
    h.runtime.handle({ callId: 'c1', name: 'echo_it', arguments: { card: '4111-1111' } });
    await h.waitFor(1);
    const lines = h.log.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'tool call finished');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ tool: 'echo_it', outcome: 'ok', args: '[redacted]', retried: false });
    expect(typeof at(lines, 0, 'log lines').durationMs).toBe('number');
    expect(h.log.text()).not.toContain('4111-1111');

    const d = await make([moduleTool('echo_it', 'echo')], { debugArgs: true });
    d.runtime.handle({ callId: 'c1', name: 'echo_it', arguments: { card: '4111-1111' } });
    await d.waitFor(1);
    expect(d.log.text()).toContain('4111-1111');
  });
});
