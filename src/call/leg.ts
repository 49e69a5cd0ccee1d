/**
 * The call core's port to a telephony leg: the only way CallSession, playback and call control
 * reach the phone call. Twilio Media Streams + REST (src/twilio/leg.ts, media-out.ts) is one
 * implementation, SIP/RTP the next; an in-memory one drives the unit tests. Nothing here names a
 * wire format: a leg turns these calls into its own messages and its own messages into these.
 *
 * Audio is G.711 μ-law at 8 kHz in 20 ms frames of 160 bytes, what both Twilio and SIP carry:
 * the core encodes once, and a leg only frames bytes (base64 in JSON, or an RTP header).
 */
import type { AgentConfig, TransferTarget } from '../config/schema.js';

/** Bytes of one 20 ms frame of 8 kHz μ-law: the unit of caller-bound audio. */
export const LEG_FRAME_BYTES = 160;

/**
 * Caller-bound media of one attached stream (a Twilio Media Stream; a SIP dialog's RTP). A call
 * may see several in turn (a stream restart); each is attached to the session on its own.
 */
export interface LegMedia {
  /** names the stream in logs and the call record (Twilio's streamSid, a SIP dialog's id) */
  readonly id: string;
  /**
   * μ-law 8 kHz: whole 20 ms frames, up to 10 at once, or a reply's short last frame. The bytes
   * are the playback's reused buffer: consumed before the call returns, never kept.
   */
  sendAudio(mulaw: Uint8Array): void;
  /** A mark after the audio sent so far; once the caller has heard it, the leg echoes it (onMark). */
  sendMark(name: string): void;
  /** Drops what was sent and not yet played (a barge-in); marks not yet echoed are stale. */
  sendClear(): void;
  /** The transport is behind: agent audio then waits in the playback's bounded queue. */
  backlogged(): boolean;
  /** Releases the stream (the call may go on and attach another). */
  close(): void;
}

/** What a leg reports of the call's media (the session implements it): the media in. */
export interface LegListener {
  /** Caller audio, μ-law 8 kHz; `mulaw` may be reused by the leg after the call returns. */
  onMedia(mulaw: Uint8Array, timestampMs: number | undefined): void;
  /** One DTMF key from the caller (0-9 * # A-D). */
  onDtmf(digit: string): void;
  /** A mark sent by sendMark has been played to the caller. */
  onMark(name: string): void;
  /** The stream ended: `stop` when the far end said so (a hang-up), any other reason otherwise. */
  onStreamEnded(media: LegMedia, why: string): void;
}

/** A control request's answer; refusals are answers for the agent, never exceptions. */
export type LegResult =
  | { ok: true }
  /** `detail`: what the leg knows of the refusal, added to the agent's tool result (SIP: `sip_status`) */
  | { ok: false; message: string; detail?: Readonly<Record<string, string | number>> };

/**
 * One call's telephony leg, for the call's whole life (across its streams): the control. Its
 * media comes and goes as LegMedia, reported to a LegListener. Every method resolves, and a
 * carrier's refusal is a result, never an exception.
 */
export interface TelephonyLeg {
  /** Why the leg cannot act on the call (e.g. no REST credentials); undefined when it can. */
  readonly unavailable: string | undefined;
  /**
   * What a call handed back after a failed transfer must present to be resumed (Twilio: the
   * nonce of its `<Dial action>` URL); undefined when the leg keeps the call itself.
   */
  readonly resumeKey: string | undefined;
  /** Ends the call at the carrier, once per call; a call already over counts as done. */
  hangup(): Promise<void>;
  /** Says `message` to the caller, then ends the call (a fallback); once per call, as hangup(). */
  hangupWithMessage(message: string): Promise<void>;
  /**
   * Hands the call to `target` (one of the agent's configured targets): resolves once the carrier
   * took it. `contextId`, when given, travels with the dial where the target can carry it.
   */
  transfer(target: TransferTarget, o?: { contextId?: string }): Promise<LegResult>;
  /**
   * The leg sends digits out of band without disturbing the call (SIP: RFC 4733 was negotiated),
   * so `send_dtmf` uses sendDigits whatever the agent's `send_dtmf_mode`. Absent: only in
   * `play_digits` mode (Twilio's `<Play digits>` restarts the stream).
   */
  readonly digitsOutOfBand?: boolean;
  /** Sends DTMF digits out of band (0-9 * # A-D, `w`/`W` pauses). */
  sendDigits(digits: string): Promise<LegResult>;
  /** ms the leg expects its media to be away and come back (a restart it caused); 0 when none. */
  mediaRestartMs(): number;
  /** A media stream attached: any expected restart is over. */
  mediaAttached(): void;
  /** present when the leg can do warm transfers (WarmCapable) */
  readonly warm?: WarmCapable;
}

/** A warm transfer, as the call core asks it of a leg (the leg knows how to whisper and bridge). */
export interface WarmHandoff {
  /** what the human hears, and the caller never does */
  whisper: string;
  /** the key the human presses to take the call; absent: hearing the whisper is accepting */
  acceptKey?: string;
  /** seconds the human's phone may ring */
  ringTimeoutS: number;
  /**
   * sent with the dial (a client's `context_id` parameter, SIP `X-Context-Id`) so a desktop can
   * match the call to its context webhook's delivery; absent when the agent has no context webhook
   */
  contextId?: string;
}

/**
 * How a warm transfer went. `accepted`: the human took the call and the leg is connecting the
 * caller to them (the caller's media to the agent ends). Otherwise the caller is still with the
 * agent: `why` says what the human did.
 */
export type WarmOutcome = (
  | { accepted: true }
  | {
      accepted: false;
      why: 'refused' | 'no_answer' | 'busy' | 'failed' | 'timeout' | 'rest_error' | 'canceled';
      message: string;
    }
) & {
  /** when the human answered (epoch ms), so the whisper began; absent: they never did */
  answeredAt?: number;
};

/**
 * A leg that can carry out a warm transfer (Twilio: a conference; SIP: a second leg whispered to,
 * then joined: src/sip/warm.ts). The call core calls it only when `warmTransfer` is present; otherwise a warm target
 * is dialled cold.
 */
export interface WarmCapable {
  /**
   * Dials the human, whispers to them, and resolves once they accepted (the leg has started
   * moving the caller to them) or the attempt is over without them. Resolves, never throws;
   * bounded by the leg's own timer.
   */
  warmTransfer(target: TransferTarget, handoff: WarmHandoff): Promise<WarmOutcome>;
  /**
   * After an accept: connects the caller to the human (Twilio: moves the caller into the
   * conference, which ends its stream). A refusal here has ended the human's leg already.
   */
  bridgeCaller(): Promise<LegResult>;
  /** The caller left (hung up) during the attempt: the human's leg is ended too. Idempotent. */
  cancelWarm(): void;
}

/** What a leg is built from: the call, for control requests that name it. */
export interface LegCall {
  readonly callSid: string;
  readonly agent: AgentConfig;
  readonly from?: string;
  readonly to?: string;
}
