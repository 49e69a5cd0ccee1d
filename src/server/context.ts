import type { CallSession, MediaStreamHandle } from '../call/session.js';
import type { LoadedConfig } from '../config/loader.js';
import type { AgentConfig, BridgeSettings } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { SocketTuning } from '../net/socket-tuning.js';
import type { TwilioRest } from '../twilio/rest.js';
import type { CallRegistry } from './registry.js';
import type { StreamClaims, StreamTokens } from './stream-token.js';

/** What the routes share: configuration, the call registry and the bridge's services. */
export interface BridgeContext {
  config: LoadedConfig;
  settings: BridgeSettings;
  logger: Logger;
  metrics: Metrics;
  registry: CallRegistry;
  rest?: TwilioRest;
  /** shared reads and write coalescing for the media and engine sockets (src/net/socket-tuning.ts) */
  sockets: SocketTuning;
  draining: boolean;
  agent(id: string | undefined): AgentConfig | undefined;
  /** the agent for a dialled number (routing table, else the default agent) */
  agentForNumber(to: string | undefined): AgentConfig;
  /**
   * Binds a media stream to its call's session, creating one if none waits. `claims` come from
   * the stream's verified token (stream-token.ts); a refusal names its reason (counted, logged).
   * `busy`: the busy message is on its way by REST (resolves whether Twilio took it).
   */
  attachStream(callSid: string, claims: StreamClaims, handle: MediaStreamHandle): { session: CallSession } | { refused: string; busy?: Promise<boolean> };
  /** pre-connects an engine session at the voice webhook (issue: answer faster) */
  preconnect(info: { callSid: string; agent: AgentConfig; from?: string; to?: string }, resumeNote?: string, turns?: readonly import('../call/memory.js').Turn[]): CallSession | undefined;
  atCapacity(): boolean;
  /** mints and verifies the per-call stream tokens carried in the TwiML's <Parameter> */
  streamTokens: StreamTokens;
}
