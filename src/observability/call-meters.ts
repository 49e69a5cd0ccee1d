import type { CallLabels } from './call-labels.js';
import type { Metrics } from './metrics.js';

/**
 * One call's per-agent metrics, bound to its labels once when the call starts: the events that
 * feed them (a reply's first audio, an underrun) look nothing up by label.
 */
export interface CallMeters {
  readonly labels: CallLabels;
  voiceToVoice: { observe(seconds: number): void };
  underruns: { inc(n?: number): void };
  underrunSeconds: { inc(seconds?: number): void };
}

export function callMeters(metrics: Metrics, labels: CallLabels): CallMeters {
  return {
    labels,
    voiceToVoice: metrics.voiceToVoice.labels(labels),
    underruns: metrics.playoutUnderruns.labels(labels),
    underrunSeconds: metrics.playoutUnderrunSeconds.labels(labels),
  };
}
