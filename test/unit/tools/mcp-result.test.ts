import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isToolExecutionError } from '../../../src/tools/errors.js';
import { createMessageMeter } from '../../../src/tools/mcp/fetch.js';
import { resultToOutput } from '../../../src/tools/mcp/executor.js';
import { MAX_OUTPUT_BYTES, truncateOutput } from '../../../src/tools/truncate.js';

const item = fc.oneof(
  fc.record({ type: fc.constant('text'), text: fc.string({ maxLength: 3000 }) }),
  fc.record({
    type: fc.constantFrom('image', 'audio'),
    mimeType: fc.string({ maxLength: 300 }),
    data: fc.base64String({ maxLength: 4000 }),
  }),
  fc.record({ type: fc.constant('resource_link'), uri: fc.string({ maxLength: 500 }) }),
  fc.record({
    type: fc.constant('resource'),
    resource: fc.record({ uri: fc.string(), text: fc.option(fc.string(), { nil: undefined }) }),
  }),
  fc.anything(),
);
const result = fc.oneof(
  fc.record({
    content: fc.array(item, { maxLength: 40 }),
    isError: fc.option(fc.boolean(), { nil: undefined }),
    structuredContent: fc.option(fc.object(), { nil: undefined }),
  }),
  fc.anything(),
);

describe('MCP result → tool output', () => {
  it('any result shape becomes a JSON output within 6144 bytes once truncated, or a bounded tool_failed', () => {
    fc.assert(
      fc.property(result, (r) => {
        let out: unknown;
        try {
          out = truncateOutput(resultToOutput(r));
        } catch (err) {
          expect(isToolExecutionError(err)).toBe(true);
          if (!isToolExecutionError(err)) return;
          expect(err.output.error).toBe('tool_failed');
          expect(String(err.output.message).length).toBeLessThanOrEqual(501);
          return;
        }
        expect(Buffer.byteLength(JSON.stringify(out) ?? 'null')).toBeLessThanOrEqual(MAX_OUTPUT_BYTES);
      }),
      { numRuns: 300 },
    );
  });

  it('non-text content is described, never copied', () => {
    const data = Buffer.alloc(30_000, 1).toString('base64');
    const out = resultToOutput({ content: [{ type: 'image', mimeType: 'image/png', data }] }) as { content: string[] };
    expect(out.content).toEqual(['[image image/png, 30000 bytes]']);
    expect(JSON.stringify(out).length).toBeLessThan(100);
  });
});

describe('per-message byte meter', () => {
  it('gives the same verdict however the stream is split into chunks', () => {
    const event = fc.string({ maxLength: 60 }).map((s) => `data: ${s.replace(/[\r\n]/g, ' ')}\n\n`);
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 20 }),
        fc.array(fc.nat(50), { maxLength: 30 }),
        fc.integer({ min: 10, max: 80 }),
        (events, cuts, limit) => {
          const bytes = Buffer.from(events.join(''));
          const whole = createMessageMeter(limit)(bytes);
          const meter = createMessageMeter(limit);
          let ok = true;
          let at = 0;
          for (const c of [...cuts, bytes.length]) {
            const next = Math.min(bytes.length, at + c);
            ok = meter(bytes.subarray(at, next)) && ok;
            at = next;
          }
          // Events that each fit never trip it, wherever the chunks end (a boundary split across
          // two chunks is still seen); and the last chunk's verdict is the whole buffer's.
          if (events.every((e) => Buffer.byteLength(e) <= limit)) expect(ok).toBe(true);
          if (!whole) expect(ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a JSON body without blank lines is judged by its whole size', () => {
    const meter = createMessageMeter(100);
    expect(meter(Buffer.alloc(60, 0x61))).toBe(true);
    expect(meter(Buffer.alloc(60, 0x61))).toBe(false);
  });
});
