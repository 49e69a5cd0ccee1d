import type { LoadedConfig } from './config/loader.js';
import type { OfflineEngine } from './sim/engine/index.js';
import { agentLine } from './sim/twilio/agent-lines.js';
import { mcpServerSchema } from './tools/mcp/schema.js';

/** What the Twilio demo (src/demo.ts) and the SIP one (src/demo-sip.ts) share: the script's checks and the agent's view. */

/** The demo's agent gets the example CRM (an MCP server on loopback) as a tool server. */
export function addDemoCrm(config: LoadedConfig, crmUrl: string): void {
  const support = config.file.agents.find((a) => a.id === 'support')!;
  support.mcp_servers.push(
    mcpServerSchema.parse({ name: 'crm', url: crmUrl, prefix: 'crm_', timeout_ms: 3000, side_effect: 'read' }),
  );
  config.file.bridge.tool_allow_hosts.push('127.0.0.1');
}

/** Whether the offline engine has sent an event of this name on any session (the demo's one call). */
export function engineSent(engine: OfflineEngine, name: string): boolean {
  return engine.sessions.some((rec) => rec.eventsSent.some((ev) => String(ev.event ?? ev.type) === name));
}

/**
 * What only the engine knows (its words, tool calls, verbs, barge-ins) joins the simulator's
 * timeline, read from the offline engine's session records as they grow.
 */
export function watchEngine(engine: OfflineEngine, print: (what: string) => void): NodeJS.Timeout {
  const seen = new Map<object, number>();
  return setInterval(() => {
    for (const rec of engine.sessions) {
      const from = seen.get(rec) ?? 0;
      for (const ev of rec.eventsSent.slice(from)) {
        const name = String(ev.event ?? ev.type);
        if (name === 'transcript' && ev.role === 'assistant' && ev.final !== false)
          print(agentLine.says(String(ev.text)));
        else if (name === 'tool_call') print(agentLine.toolCall(String(ev.name), JSON.stringify(ev.arguments)));
        else if (['transfer_to_human', 'send_dtmf', 'play_hold', 'collect', 'end_call'].includes(name)) {
          const { event: _e, type: _t, ...args } = ev;
          print(agentLine.verb(name, JSON.stringify(args)));
        } else if (name === 'flush' || name === 'barge_in') print(agentLine.bargeIn());
      }
      seen.set(rec, rec.eventsSent.length);
      const results = seen.get(rec.toolResults) ?? 0;
      for (const r of rec.toolResults.slice(results)) print(agentLine.toolResult(r.name, JSON.stringify(r.output)));
      seen.set(rec.toolResults, rec.toolResults.length);
    }
  }, 25);
}

/**
 * What the demo's script expects of the call (config/demo-scenario.yaml): both tools answered,
 * the account number collected by its length or the # key (not a timeout: digits keyed before
 * the agent asked), and the transfer started. Each one missing is a reason to exit non-zero.
 */
export function unmetExpectations(s: {
  toolCalls: readonly { name: string; outcome: string }[];
  verbs: readonly { verb: string; result: string }[];
}): string[] {
  const unmet: string[] = [];
  for (const name of ['get_order_status', 'crm_check_warranty']) {
    const t = s.toolCalls.find((x) => x.name === name);
    if (t?.outcome !== 'ok') unmet.push(`tool ${name} ${t ? t.outcome : 'not called'}`);
  }
  const collect = s.verbs.find((v) => v.verb === 'collect');
  if (!collect || !['num_digits', 'finish_key'].includes(collect.result))
    unmet.push(`collect ${collect ? `ended by ${collect.result}` : 'never ran'}`);
  if (!s.verbs.some((v) => v.verb === 'transfer_to_human' && v.result === 'started')) unmet.push('no transfer started');
  return unmet;
}
