/**
 * The tool SDK (packages/tool-sdk) imports in plain Node by its package name, verifies what the
 * bridge signs (and the bridge's own check accepts what it signs), never throws on a hostile
 * header; `new-tool` writes a module and a webhook receiver that work as written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { runNewTool } from '../../../src/new-tool.js';
import { signBridgePayload, verifyBridgeSignature } from '../../../src/tools/signing.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const SECRET = 'a-signing-secret-of-enough-length';
// the SDK by its package name, as a tool author's code imports it (the root package's exports)
const sdk = await import('omni-phone-bridge/tool-sdk');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the tool SDK', () => {
  it("verifies the bridge's signature, and the bridge verifies the SDK's", () => {
    const body = JSON.stringify({ call_id: 't1', name: 'x', arguments: { a: 1 } });
    expect(
      sdk.verifyBridgeSignature({ header: signBridgePayload(SECRET, body), rawBody: body, secret: SECRET }),
    ).toEqual({
      ok: true,
    });
    expect(
      verifyBridgeSignature({ header: sdk.signBridgePayload(SECRET, body), rawBody: body, secret: SECRET }),
    ).toEqual({
      ok: true,
    });
    expect(sdk.SIGNATURE_HEADER).toBe('X-Bridge-Signature');
  });

  it('refuses a changed body, another secret, an old timestamp and a missing header, each by its reason', () => {
    const body = '{"a":1}';
    const h = signBridgePayload(SECRET, body);
    expect(sdk.verifyBridgeSignature({ header: h, rawBody: '{"a":2}', secret: SECRET })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(sdk.verifyBridgeSignature({ header: h, rawBody: body, secret: 'other-secret-xxxxxxxx' }).ok).toBe(false);
    const old = signBridgePayload(SECRET, body, Math.floor(Date.now() / 1000) - 3600);
    expect(sdk.verifyBridgeSignature({ header: old, rawBody: body, secret: SECRET })).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(sdk.verifyBridgeSignature({ header: undefined, rawBody: body, secret: SECRET })).toEqual({
      ok: false,
      reason: 'missing',
    });
  });

  it('any header an attacker sends gets a refusal, never a throw and never ok', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(fc.string()), fc.constant(null)), fc.string(), (header, body) => {
        const r = sdk.verifyBridgeSignature({ header, rawBody: body, secret: SECRET });
        expect(r.ok).toBe(false);
      }),
    );
  });

  it('defineTool returns the handler as it is', () => {
    const h = async () => ({ ok: true });
    expect(sdk.defineTool(h)).toBe(h);
    expect(() => sdk.defineTool(undefined as never)).toThrow(TypeError);
  });
});

function tempDir(under = tmpdir()): string {
  const d = mkdtempSync(join(under, 'opb-newtool-'));
  dirs.push(d);
  return d;
}

async function newTool(args: string[], cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runNewTool(args, { out: (s) => out.push(s), err: (s) => err.push(s), cwd });
  return { code, out: out.join(''), err: err.join('') };
}

describe('new-tool NAME', () => {
  it('writes a module the bridge can import and prints the block to paste; never overwrites', async () => {
    const cwd = tempDir();
    const r = await newTool(['look_up_order'], cwd);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /- name: look_up_order[^]*executor: \{ kind: module, module: \.\/tools\/look_up_order\.js \}/,
    );
    const mod = (await import(pathToFileURL(join(cwd, 'tools/look_up_order.js')).href)) as {
      default: (a: unknown, c: unknown) => Promise<unknown>;
    };
    const result = await mod.default({ query: 'order 12' }, { signal: new AbortController().signal });
    expect(result).toMatchObject({ query: 'order 12' });
    expect((await newTool(['look_up_order'], cwd)).code).toBe(1);
    expect((await newTool(['Bad-Name'], cwd)).code).toBe(2);
  });

  it('--webhook writes a receiver that answers a signed call and refuses an unsigned one', async () => {
    // inside the package, as a tool author's project depends on it: 'omni-phone-bridge/tool-sdk' resolves
    const cwd = tempDir(join(ROOT, 'test'));
    const r = await newTool(['check_stock', '--webhook'], cwd);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/signing_secret_env: TOOL_SECRET_CHECK_STOCK/);
    process.env.TOOL_SECRET_CHECK_STOCK = SECRET;
    const mod = (await import(pathToFileURL(join(cwd, 'tools/check_stock.webhook.js')).href)) as {
      server: import('node:http').Server;
    };
    delete process.env.TOOL_SECRET_CHECK_STOCK;
    await new Promise<void>((res) => mod.server.listen(0, '127.0.0.1', () => res()));
    const port = (mod.server.address() as { port: number }).port;
    const post = (body: string, headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((res, rej) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers }, (resp) => {
          let b = '';
          resp.on('data', (d) => (b += d));
          resp.on('end', () => res({ status: resp.statusCode ?? 0, body: b }));
        });
        req.on('error', rej);
        req.end(body);
      });
    try {
      const body = JSON.stringify({ call_id: 't1', name: 'check_stock', arguments: { query: 'bolts' } });
      const signed = await post(body, { 'X-Bridge-Signature': signBridgePayload(SECRET, body) });
      expect(signed.status).toBe(200);
      expect(JSON.parse(signed.body)).toMatchObject({ query: 'bolts' });
      expect((await post(body, {})).status).toBe(401);
    } finally {
      await new Promise<void>((res) => mod.server.close(() => res()));
    }
  });
});
