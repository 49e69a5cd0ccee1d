import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CONFIG_PATH } from '../../src/config/loader.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { testToken } from '../helpers/tokens.js';
import { scrapeMetrics } from '../helpers/metrics.js';

/**
 * A leaked admin token must not become a toll-fraud tool: POST /admin/calls dials only the agents'
 * transfer targets and what `bridge.outbound.allow` names. Everything else is a 403, logged and
 * counted, and Twilio's REST API is never called.
 */

const ADMIN = testToken('outbound admin');
let h: Harness | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function placeCall(to: string, from = '+15550001111') {
  return fetch(`${h!.bridgeUrl}/admin/calls`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to, from, agent: 'support' }),
    signal: AbortSignal.timeout(5000),
  });
}

type Cfg = {
  agents: { id: string; transfer: { targets: { name: string; value: string }[]; default?: string } }[];
  numbers: Record<string, unknown>;
  bridge: { outbound?: { allow: string[] } };
};

/** The shipped configuration in a file BRIDGE_CONFIG names, so that a reload re-reads what the test writes. */
async function startReloadable(): Promise<{ write(edit: (c: Cfg) => void): void; reload(): Promise<Response> }> {
  const dir = mkdtempSync(join(tmpdir(), 'opb-outbound-'));
  dirs.push(dir);
  const path = join(dir, 'agents.json');
  const text = readFileSync(DEFAULT_CONFIG_PATH, 'utf8');
  writeFileSync(path, JSON.stringify(parseYaml(text)));
  h = await startHarness({ configText: text, env: { ADMIN_TOKEN: ADMIN, BRIDGE_CONFIG: path } });
  return {
    write(edit) {
      const c = parseYaml(text) as Cfg;
      edit(c);
      writeFileSync(path, JSON.stringify(c));
    },
    reload: () =>
      fetch(`${h!.bridgeUrl}/admin/config/reload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}` },
        signal: AbortSignal.timeout(10_000),
      }),
  };
}

const calls = () => h!.sim.restRequests.filter((r) => r.path.endsWith('/Calls.json'));

describe('admin outbound calls: destination allow-list', () => {
  it('refuses a premium-rate number and an arbitrary sip: URI with 403, logged and counted, and makes no REST call', async () => {
    h = await startHarness({ env: { ADMIN_TOKEN: ADMIN } });
    for (const to of ['+19005550123', 'sip:anyone@evil.example.com']) {
      const res = await placeCall(to);
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'destination_not_allowed' });
    }
    expect(h.sim.restRequests).toEqual([]);
    const refused = h.logs.find('outbound call refused: destination not allowed');
    expect(refused.map((l) => l.destination)).toEqual(['+1900…(12)', 'sip:…(27)']);
    expect(h.logs.text()).not.toContain('9005550123');
    const metrics = await scrapeMetrics(h.bridgeUrl);
    expect(metrics).toMatch(/bridge_webhook_rejected_total\{route="admin",reason="destination_not_allowed"\} 2/);
  });

  it("dials the agents' transfer targets by default, and configured prefixes and patterns", async () => {
    h = await startHarness({
      env: { ADMIN_TOKEN: ADMIN },
      tweak: (c) => {
        c.file.bridge.outbound.allow = ['+1555777*', 'sip:*@pbx.example.com'];
      },
    });
    expect((await placeCall('+15550100200')).status).toBe(201); // front_desk, a transfer target
    expect((await placeCall('+15557770001')).status).toBe(201);
    expect((await placeCall('sip:sales@pbx.example.com')).status).toBe(201);
    expect(calls()).toHaveLength(3);
    // a pattern's * never spans '@', ';' or ':': it cannot be stretched to another host
    expect((await placeCall('sip:a@evil.example.com;x@pbx.example.com')).status).toBe(403);
    expect((await placeCall('+15557780001')).status).toBe(403);
    expect(calls()).toHaveLength(3);
  });

  it('follows a reload: a removed transfer target is refused, an added one and an added allow pattern are dialled', async () => {
    const cfg = await startReloadable();
    expect((await placeCall('+15550100200')).status).toBe(201); // front_desk, at start-up
    expect((await placeCall('+15550300400')).status).toBe(403); // not yet a target

    // front_desk's number moves: the old one is no longer a target, the new one is.
    cfg.write((c) => {
      c.agents[0]!.transfer.targets[0]!.value = '+15550300400';
      c.bridge.outbound = { allow: ['+1555888*'] };
    });
    const r = await cfg.reload();
    expect(r.status).toBe(200);
    expect(((await r.json()) as { summary: string }).summary).toContain('applied: bridge.outbound');
    expect((await placeCall('+15550100200')).status).toBe(403);
    expect((await placeCall('+15550300400')).status).toBe(201);
    expect((await placeCall('+15558880001')).status).toBe(201);
    expect(calls().map((c) => c.form.To)).toEqual(['+15550100200', '+15550300400', '+15558880001']);
  });

  it('refuses a from that is not one of the configured numbers, and follows a reload that adds one', async () => {
    const cfg = await startReloadable();
    const spoofed = await placeCall('+15550100200', '+15559990000');
    expect(spoofed.status).toBe(403);
    expect(await spoofed.json()).toMatchObject({ error: 'from_not_allowed' });
    expect(calls()).toHaveLength(0);
    expect(h!.logs.find('outbound call refused: from is not ours')).toHaveLength(1);
    expect(h!.logs.text()).not.toContain('5559990000');
    const metrics = await scrapeMetrics(h!.bridgeUrl);
    expect(metrics).toMatch(/bridge_webhook_rejected_total\{route="admin",reason="from_not_allowed"\} 1/);

    cfg.write((c) => {
      c.numbers['+15559990000'] = { agent: 'sales' };
    });
    expect((await cfg.reload()).status).toBe(200);
    expect((await placeCall('+15550100200', '+15559990000')).status).toBe(201);
    expect((await placeCall('+15550100200', '+15550001111')).status).toBe(201);
  });
});
