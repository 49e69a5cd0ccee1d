/**
 * What only the bridge knows of a call (the agent's words, its tool calls with their arguments
 * and results, its verbs, barge-ins), for `omni-phone-bridge call`: read from the bridge's
 * console feed (`/console/api/events?call=SID`), logged in with the bridge's ADMIN_TOKEN, and
 * printed in the demo's words (agent-lines.ts). The arguments and results are there only when the
 * bridge keeps them (`bridge.call_record_transcript: true`); they are masked as the console shows them.
 */
import { agentLine } from './agent-lines.js';

export interface BridgeFeedOptions {
  bridgeUrl: string;
  /** the bridge's PUBLIC_URL: the console accepts a login from its origin only */
  publicUrl: string;
  adminToken: string;
  callSid: string;
  print: (what: string) => void;
}

export interface BridgeFeed {
  stop(): void;
}

interface FeedEvent {
  kind?: string;
  callSid?: string;
  role?: string;
  text?: string;
  type?: string;
  name?: string;
  result?: string;
  durationMs?: number;
  args?: string;
  output?: string;
}

function describe(ev: FeedEvent): string[] {
  if (ev.kind === 'transcript' && ev.role === 'assistant') return [agentLine.says(String(ev.text))];
  if (ev.kind !== 'timeline') return [];
  const name = String(ev.name);
  const took = ev.durationMs !== undefined ? ` (${ev.durationMs} ms)` : '';
  switch (ev.type) {
    case 'tool':
      return [
        agentLine.toolCall(name, ev.args ?? '(arguments: set bridge.call_record_transcript to see them)'),
        agentLine.toolResult(name, `${ev.output ?? ev.result ?? ''}${ev.output ? ` [${ev.result}]` : ''}${took}`),
      ];
    case 'verb':
      return ev.name === 'status' ? [] : [agentLine.verb(name, `→ ${ev.result}`)];
    case 'barge_in':
      return [agentLine.bargeIn()];
    case 'dtmf':
      return [`hears DTMF ${name} (${ev.result})`];
    default:
      return [];
  }
}

/** Logs in and follows the call's feed until `stop`; a login or stream that fails is said once, never thrown. */
export async function followBridgeCall(o: BridgeFeedOptions, warn: (s: string) => void): Promise<BridgeFeed> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  let cookie: string | undefined;
  try {
    const login = await fetch(`${o.bridgeUrl}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: new URL(o.publicUrl).origin },
      body: JSON.stringify({ token: o.adminToken }),
      signal: abort.signal,
    });
    cookie = login.headers.get('set-cookie')?.split(';')[0];
    if (login.status !== 204 || !cookie) {
      warn(`the bridge's console refused the login (${login.status}): the agent's side is not shown\n`);
      return { stop };
    }
    const res = await fetch(`${o.bridgeUrl}/console/api/events?call=${encodeURIComponent(o.callSid)}`, {
      headers: { cookie },
      signal: abort.signal,
    });
    if (res.status !== 200 || !res.body) {
      warn(`the bridge's event stream answered ${res.status}: the agent's side is not shown\n`);
      return { stop };
    }
    void read(res.body, o).catch(() => undefined); // ends when stopped
  } catch (err) {
    if (!abort.signal.aborted) warn(`could not follow the call on the bridge (${(err as Error).message})\n`);
  }
  return { stop };
}

async function read(body: ReadableStream<Uint8Array>, o: BridgeFeedOptions): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const message = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = message
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      if (!data) continue;
      let ev: FeedEvent;
      try {
        ev = JSON.parse(data) as FeedEvent;
      } catch {
        continue;
      }
      if (ev.callSid !== o.callSid) continue;
      for (const line of describe(ev)) o.print(line);
    }
  }
}
