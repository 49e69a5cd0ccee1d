import { afterEach, describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/sim/engine/scenario.js';
import { mcpServerSchema } from '../../src/tools/mcp/schema.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { startMcpServer, type TestMcpServer } from '../helpers/mcp-servers.js';
import { scrapeMetrics } from '../helpers/metrics.js';

let h: Harness | undefined;
let mcp: TestMcpServer | undefined;
afterEach(async () => {
  await h?.close();
  await mcp?.close();
  h = undefined;
  mcp = undefined;
});

describe('an MCP tool through the bridge', () => {
  it('the engine is offered the discovered tool in configure, calls it, and the result reaches it; the call record names the server', async () => {
    mcp = await startMcpServer({ transport: 'streamable_http' });
    const url = mcp.url;
    const scenario = await loadScenario(new URL('../../config/demo-scenario.yaml', import.meta.url).pathname);
    const step = { tool_call: { name: 'crm_lookup_order', arguments: { order_id: '4417' }, call_id: 'tool-mcp-1' } };
    h = await startHarness({
      engine: { scenario: { ...scenario, steps: [step] as typeof scenario.steps } },
      tweak: (config) => {
        config.file.agents
          .find((a) => a.id === 'support')!
          .mcp_servers.push(mcpServerSchema.parse({ name: 'crm', url, prefix: 'crm_', side_effect: 'read' }));
        config.file.bridge.tool_allow_hosts.push('127.0.0.1');
      },
    });
    await h.bridge.mcp.whenSettled(10_000);
    const call = h.sim.placeCall({ to: '+15550001111', from: '+15557654321', maxDurationMs: 20_000 });
    await waitFor(() => h!.engine.sessions[0]?.toolResults.length === 1, 15_000);
    const session = h.engine.sessions[0]!;
    const offered = (session.config?.tools as Array<{ name: string; parameters: unknown }>).find(
      (t) => t.name === 'crm_lookup_order',
    );
    expect(offered?.parameters).toMatchObject({ type: 'object', properties: { order_id: { type: 'string' } } });
    expect(session.toolResults[0]).toMatchObject({
      name: 'crm_lookup_order',
      output: { order_id: '4417', status: 'shipped' },
    });
    expect(mcp.calls).toEqual(['lookup_order']);
    call.hangup();
    await call.done;
    await waitFor(() => h!.records.length === 1, 10_000);
    expect(h.records[0]!.tools).toEqual([
      expect.objectContaining({ name: 'crm_lookup_order', outcome: 'ok', executor: 'mcp', server: 'crm' }),
    ]);
    const metrics = await scrapeMetrics(h.bridgeUrl);
    expect(metrics).toMatch(/bridge_mcp_tool_calls_total\{server="crm",outcome="ok"\} 1/);
    expect(metrics).toMatch(/bridge_mcp_server_up\{agent="support",server="crm"\} 1/);
  });
});
