import type { AgentConfig } from '../config/schema.js';
import type { ConfigurePayload } from '../omni/events.js';
import type { ToolSet } from '../tools/registry.js';

/**
 * The one, complete `configure` of an engine session (a partial configure could overwrite an
 * agent profile's bindings). A session opened to continue a call (after a failed transfer)
 * carries the conversation so far and a note, and no greeting.
 */
export function buildConfigure(
  agent: AgentConfig,
  tools: ToolSet | undefined,
  resume?: { note: string; summary?: string },
): ConfigurePayload {
  let persona = agent.persona;
  if (resume) {
    persona += `\n\n[This call is continuing. Do not greet the caller again. ${resume.note}`;
    persona += resume.summary ? `\nConversation so far:\n${resume.summary}]` : ']';
  }
  const payload: ConfigurePayload = { persona };
  if (agent.voice_id) payload.voice_id = agent.voice_id;
  if (agent.greeting && !resume) payload.greeting = agent.greeting;
  if (agent.consent_line && !resume) payload.consent_line = agent.consent_line;
  if (agent.kb_endpoint) payload.kb_endpoint = agent.kb_endpoint;
  if (agent.kb_token_env && process.env[agent.kb_token_env]) payload.kb_token = process.env[agent.kb_token_env];
  const defs = tools?.definitionsForEngine() ?? [];
  if (defs.length) payload.tools = defs;
  return payload;
}
