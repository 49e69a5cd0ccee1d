/**
 * Why a call ended: its record's `outcome` and its `bridge_calls_total` label. Every place that
 * ends a call names one of these, so a dashboard or a test can list them all.
 */

/** Twilio's final call statuses (a status callback that ends a call that never streamed). */
export const FINAL_CALL_STATUSES = ['completed', 'busy', 'failed', 'no-answer', 'canceled'] as const;
export type FinalCallStatus = (typeof FINAL_CALL_STATUSES)[number];

export function isFinalCallStatus(status: string): status is FinalCallStatus {
  return (FINAL_CALL_STATUSES as readonly string[]).includes(status);
}

/** The agent's fallback ran (the engine gave up, or the bridge stopped waiting for it). */
export type FallbackReason =
  | 'engine_refused'
  | 'engine_lost'
  | 'engine_silent'
  | 'engine_flapping'
  | 'engine_unresponsive'
  | 'max_duration'
  | 'drain';

export type CallOutcome =
  | FallbackReason
  /** Twilio's `stop`: the caller hung up */
  | 'caller_hangup'
  /** the caller's DTMF hang-up shortcut */
  | 'caller_shortcut'
  /** the agent's end_call verb */
  | 'agent_hangup'
  /** an operator's hang-up (admin API, console, through another replica): the agent is cut off */
  | 'operator_hangup'
  | 'transferred'
  /** the stream closed without a `stop` */
  | 'stream_closed'
  /** no stream arrived in time */
  | 'no_stream'
  /** the engine ended the session normally */
  | 'engine_ended'
  /** the bridge shut down with the call still up */
  | 'shutdown'
  /** a draining replica moved the call to another (its conversation went through the store) */
  | 'moved'
  | `twilio_${FinalCallStatus}`;

/** Calls refused at the webhook: counted in bridge_calls_total, no session, no record. */
export type RefusedOutcome = 'refused_draining' | 'refused_capacity';
