import type { CallSession } from '../call/session.js';
import type { LegMedia } from '../call/leg.js';
import type { LoadedConfig } from '../config/loader.js';
import type { AgentConfig, BridgeSettings } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CallFeedHub } from '../observability/call-events.js';
import type { CallHistory, FleetHistorySource } from './calls/history.js';
import type { ReloadResult } from './reload.js';
import type { SocketTuning } from '../net/socket-tuning.js';
import type { ConnectionGuard } from './security/connection-guard.js';
import type { TwilioRest } from '../twilio/rest.js';
import type { AttachResult, CallRegistry, Resume } from './calls/registry.js';
import type { FleetCalls } from './calls/fleet-calls.js';
import type { StreamClaims, StreamTokens } from '../twilio/stream-token.js';

/** What the routes share: configuration, the call registry and the bridge's services. */
export interface BridgeContext {
  /** the control plane database's state, when DATABASE_URL is set (src/control-plane/health.ts) */
  controlPlaneHealth?: () => 'ok' | 'unreachable';
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
  attachStream(callSid: string, claims: StreamClaims, handle: LegMedia): AttachResult | Promise<AttachResult>;
  /** pre-connects an engine session at a webhook (registry.preconnect) */
  preconnect(
    info: { callSid: string; agent: AgentConfig; from?: string; to?: string; direction?: string },
    resume?: Resume,
  ): CallSession | undefined;
  /** this replica is full (its own limit) */
  atCapacity(): boolean;
  /** whether a new call may start: this replica's limit, then the fleet's (a slot claimed for `callSid`) */
  admit(callSid: string): Promise<boolean>;
  /** the fleet's calls and the operator's hang-up and transfer (admin API, console, tools) */
  calls: FleetCalls;
  /** live events of this process's calls, for the console (src/observability/call-events.ts) */
  feeds: CallFeedHub;
  /** the last finished calls of this process (the console's history view) */
  history: CallHistory;
  /** every replica's finished calls, with DATABASE_URL: the console's history reads these instead */
  fleetHistory?: FleetHistorySource;
  /** re-reads the configuration file; new calls get it, calls in progress keep theirs (reload.ts) */
  reloadConfig(source: string): Promise<ReloadResult>;
  /** mints and verifies the per-call stream tokens carried in the TwiML's <Parameter> */
  streamTokens: StreamTokens;
  /** who may hold the listener's connections; a signed request's socket is promoted (connection-guard.ts) */
  connections?: ConnectionGuard;
}
