import type { LegListener, LegMedia, TelephonyLeg } from '../call/leg.js';
import type { CallOutcome } from '../call/outcome.js';
import type { CallInfo } from '../call/types.js';
import type { AgentConfig, ConfigFile } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';

/** What a SIP call needs of its session (CallSession satisfies it). */
export interface SipCallSession extends LegListener {
  readonly answerable: Promise<void>;
  readonly isEnded: boolean;
  attachStream(media: LegMedia): void;
  end(outcome: CallOutcome): void;
}

/** What the SIP server needs of the bridge (src/server/app.ts builds it from its context). */
export interface SipHost {
  readonly draining: boolean;
  atCapacity(): boolean;
  /** this replica's limit, then the fleet's */
  admit(callSid: string): Promise<boolean>;
  /** the configuration now (a reload changes it) */
  file(): Pick<ConfigFile, 'numbers' | 'sip' | 'agents'>;
  agent(id: string): AgentConfig | undefined;
  /** the agent's recorded fallback message at 8 kHz (`fallback.wav`), said before a give-up's BYE */
  fallbackAudio?(id: string): Int16Array | undefined;
  /** creates the call's session on the leg `legFor` builds, its engine opening (the registry's ringing path) */
  startCall(info: CallInfo, legFor: (info: CallInfo, log: Logger) => TelephonyLeg): SipCallSession;
}
