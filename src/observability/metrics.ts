import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createToolMetrics } from '../tools/metrics.js';
import { CallLabeller } from './call-labels.js';
import { FastCounter, FastHistogram } from './fast-metrics.js';

/** The labels of the per-agent metrics (src/observability/call-labels.ts): values from the configuration only. */
const PER_AGENT = ['agent', 'route'] as const;

/**
 * The bridge's Prometheus metrics. Each server instance owns its registry (never the global
 * default one) so that tests can run several bridges in one process without sharing counts.
 */
/** Who counts the held HTTP connections: the listener's guard, once it is attached (http-limits.ts). */
export interface HeldConnections {
  unproven(): number;
  proven(): number;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const heldConnections: HeldConnections = { unproven: () => 0, proven: () => 0 };
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const r = [registry];
  const latencyBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1];
  return {
    heldConnections,
    registry,
    /** resolves a call's `agent` and `route` labels against the configuration (the bridge binds it at start) */
    callLabels: new CallLabeller(),
    activeCalls: new Gauge({ name: 'bridge_active_calls', help: 'Calls with a live session', registers: r }),
    calls: new Counter({
      name: 'bridge_calls_total',
      help: 'Finished (or refused) calls by agent, route and outcome',
      labelNames: [...PER_AGENT, 'outcome'],
      registers: r,
    }),
    /** per frame: FastCounter (same export as prom-client's Counter, no per-call label hashing) */
    frames: new FastCounter({
      name: 'bridge_frames_total',
      help: 'Audio frames by direction',
      labelNames: ['direction'],
      registers: r,
    }),
    /** SIP requests thrown away without an answer (src/sip/drops.ts): scanners, strangers, garbage */
    sipDropped: new Counter({
      name: 'bridge_sip_dropped_total',
      help: 'SIP messages dropped without an answer, by reason',
      labelNames: ['reason'],
      registers: r,
    }),
    framesDropped: new Counter({
      name: 'bridge_frames_dropped_total',
      help: 'Audio frames dropped by direction and reason',
      labelNames: ['direction', 'reason'],
      registers: r,
    }),
    silenceFilled: new Counter({
      name: 'bridge_silence_filled_ms_total',
      help: 'Milliseconds of silence inserted for inbound media gaps',
      registers: r,
    }),
    rejected: new Counter({
      name: 'bridge_rejected_messages_total',
      help: 'Malformed or unexpected messages by source and reason',
      labelNames: ['source', 'reason'],
      registers: r,
    }),
    streamsRefused: new Counter({
      name: 'bridge_media_streams_refused_total',
      help: 'Media Streams sockets refused or closed by the bridge, by reason (token, duplicate stream, start timeout, rate)',
      labelNames: ['reason'],
      registers: r,
    }),
    streamsThrottled: new Counter({
      name: 'bridge_media_streams_throttled_total',
      help: 'Times a media socket went over its message or byte budget and its reads were paused',
      registers: r,
    }),
    httpConnectionsRefused: new Counter({
      name: 'bridge_http_connections_refused_total',
      help: 'HTTP connections the bridge refused or cut, by reason (per_source, displaced, full, idle_timeout, request_timeout, client_error)',
      labelNames: ['reason'],
      registers: r,
    }),
    httpConnections: new Gauge({
      name: 'bridge_http_connections',
      help: 'HTTP connections the bridge holds, by state: unproven (no Twilio signature yet) or proven',
      labelNames: ['state'],
      registers: r,
      // read at scrape time from the listener's connection guard (http-limits.ts sets the source)
      collect() {
        this.set({ state: 'unproven' }, heldConnections.unproven());
        this.set({ state: 'proven' }, heldConnections.proven());
      },
    }),
    webhooksRejected: new Counter({
      name: 'bridge_webhook_rejected_total',
      help: 'Twilio requests refused by route and reason',
      labelNames: ['route', 'reason'],
      registers: r,
    }),
    bargeIns: new Counter({
      name: 'bridge_barge_ins_total',
      help: 'Caller barge-ins (Twilio clear sent)',
      registers: r,
    }),
    transfers: new Counter({
      name: 'bridge_transfers_total',
      help: 'Transfers by agent, route and result',
      labelNames: [...PER_AGENT, 'result'],
      registers: r,
    }),
    /** target: a configured target's name (config, never the engine's words); result: WarmOutcome's set */
    warmTransfers: new Counter({
      name: 'bridge_warm_transfers_total',
      help: 'Warm transfers by target and result (accepted, refused, no_answer, busy, failed, timeout, caller_hangup…)',
      labelNames: ['target', 'result'],
      registers: r,
    }),
    warmWait: new Histogram({
      name: 'bridge_warm_transfer_wait_seconds',
      help: "Caller's wait in a warm transfer, from the agent's last word to the human accepting or the attempt's end",
      labelNames: ['target', 'accepted'],
      buckets: [1, 2.5, 5, 10, 15, 20, 30, 45, 60, 90],
      registers: r,
    }),
    /** the context webhook's deliveries by their final outcome (src/control/context-webhook.ts) */
    transferContext: new Counter({
      name: 'bridge_transfer_context_total',
      help: 'Context webhook deliveries at transfers by agent and outcome (delivered, refused, failed, blocked, misconfigured, aborted)',
      labelNames: ['agent', 'outcome'],
      registers: r,
    }),
    transferContextRetries: new Counter({
      name: 'bridge_transfer_context_retries_total',
      help: 'Context webhook attempts made again after a 5xx, a timeout or a network error, by agent',
      labelNames: ['agent'],
      registers: r,
    }),
    verbs: new Counter({
      name: 'bridge_engine_verbs_total',
      help: 'Engine call-control verbs by verb and result',
      labelNames: ['verb', 'result'],
      registers: r,
    }),
    /** tool calls by outcome, errors by kind, retries, latency (bridge_tool_*) */
    tools: createToolMetrics(registry),
    engineConnect: new Histogram({
      name: 'bridge_engine_connect_seconds',
      help: 'Engine connect + configure latency',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    engineCloses: new Counter({
      name: 'bridge_engine_closes_total',
      help: 'Engine socket closes by code',
      labelNames: ['code'],
      registers: r,
    }),
    engineReconnects: new Counter({
      name: 'bridge_engine_reconnects_total',
      help: 'Engine reconnect attempts by agent, route and result',
      labelNames: [...PER_AGENT, 'result'],
      registers: r,
    }),
    engineFlaps: new Counter({
      name: 'bridge_engine_flaps_total',
      help: 'Engine sessions that came up (said hello) and then dropped abnormally',
      registers: r,
    }),
    engineDeadlines: new Counter({
      name: 'bridge_engine_deadlines_missed_total',
      help: 'Engine deadlines missed: hello (none after the socket opened), reply (silent while the caller waited)',
      labelNames: ['deadline'],
      registers: r,
    }),
    /** per frame: FastHistogram (same export as prom-client's Histogram) */
    addedLatency: new FastHistogram({
      name: 'bridge_added_latency_seconds',
      help: 'Processing time the bridge adds per frame',
      labelNames: ['direction'],
      buckets: latencyBuckets,
      registers: r,
    }),
    /** per socket flush: how long its oldest message waited in the write coalescer (src/net/write-coalescer.ts) */
    writeHold: new FastHistogram({
      name: 'bridge_write_hold_seconds',
      help: 'Wait of the oldest held message per socket flush of the write coalescer',
      labelNames: ['direction'],
      buckets: latencyBuckets,
      registers: r,
    }),
    /** what the caller experiences of each agent reply (src/call/playback.ts) */
    replyFirstFrame: new Histogram({
      name: 'bridge_reply_first_frame_seconds',
      help: "Engine's first audio of a reply to its first audio sent to Twilio",
      buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1],
      registers: r,
    }),
    voiceToVoice: new Histogram({
      name: 'bridge_voice_to_voice_seconds',
      help: "Caller's end of speech (as the engine reports it) to the reply's first audio played, by agent and route",
      labelNames: [...PER_AGENT],
      buckets: [0.2, 0.4, 0.6, 0.8, 1, 1.5, 2, 3, 5, 10],
      registers: r,
    }),
    playoutUnderruns: new Counter({
      name: 'bridge_playout_underruns_total',
      help: "Times the caller's playout ran dry inside a reply (the engine fell behind real time), by agent and route",
      labelNames: [...PER_AGENT],
      registers: r,
    }),
    playoutUnderrunSeconds: new Counter({
      name: 'bridge_playout_underrun_seconds_total',
      help: 'Silence the caller heard inside replies because the playout ran dry, by agent and route',
      labelNames: [...PER_AGENT],
      registers: r,
    }),
    engineUnknownEvents: new Counter({
      name: 'bridge_engine_unknown_events_total',
      help: 'Engine events of a type the bridge does not know (ignored)',
      registers: r,
    }),
    /** 1 when the fast path is active in this process, 0 when it fell back (src/net/fast-path-probe.ts) */
    fastPathActive: new Gauge({
      name: 'bridge_fast_path_active',
      help: 'Whether a receive fast path is active (1) or fell back to the default path (0), by path: shared_read, ws_fast_receive',
      labelNames: ['path'],
      registers: r,
    }),
    preconnect: new Counter({
      name: 'bridge_preconnect_total',
      help: 'Pre-connected engine sessions by result',
      labelNames: ['result'],
      registers: r,
    }),
    /** the fleet's call history in PostgreSQL (src/control-plane/call-record-writer.ts) */
    callRecordsWritten: new Counter({
      name: 'bridge_call_records_written_total',
      help: 'Finished calls whose record was written to the call history database',
      registers: r,
    }),
    callRecordsDropped: new Counter({
      name: 'bridge_call_records_dropped_total',
      help: 'Call records never written to the history database, by reason: buffer_full, rejected, shutdown',
      labelNames: ['reason'],
      registers: r,
    }),
    callRecordsBuffered: new Gauge({
      name: 'bridge_call_records_buffered',
      help: 'Call records waiting to be written to the history database',
      registers: r,
    }),
    callRecordWriteFailures: new Counter({
      name: 'bridge_call_record_write_failures_total',
      help: 'Batches of call records the history database did not take (kept and retried)',
      registers: r,
    }),
    callRecordsExpired: new Counter({
      name: 'bridge_call_records_expired_total',
      help: 'Calls deleted from the history database by its retention',
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
