import { maskNumber } from '../../observability/redact.js';
import type { CallResult, TimelineEntry } from './types.js';

/** E.164 numbers in printed text, masked (`•••0200`): what a terminal shows is output like a log. */
export function maskE164(text: string): string {
  return text.replace(/\+\d{7,15}\b/g, (m) => maskNumber(m));
}

/** Human-readable call timelines: `00:01.240  agent    speaking`. */

export function formatTime(ms: number): string {
  const t = Math.max(0, Math.round(ms));
  const m = Math.floor(t / 60000);
  const s = Math.floor((t % 60000) / 1000);
  const milli = t % 1000;
  return `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(milli).padStart(3, '0')}`;
}

/** What a printed line shows: the wall-clock time, who and what (not the media clock). */
type Printable = Pick<TimelineEntry, 'atMs' | 'who' | 'what'>;

export function formatEntry(e: Printable): string {
  return `${formatTime(e.atMs)}  ${e.who.padEnd(8)} ${maskE164(e.what)}`;
}

/** One line per entry, joined with newlines (no trailing newline). */
export function formatTimeline(entries: readonly Printable[]): string {
  return entries.map(formatEntry).join('\n');
}

/** A few lines: how the call ended, its streams, what was dialed, and every violation. */
export function formatSummary(r: CallResult): string[] {
  const lines = [
    `call ${r.callSid}: ${(r.durationMs / 1000).toFixed(1)} s, ended by ${r.endedBy}, ${r.streams.length} stream(s), ${r.restUpdates} REST update(s)`,
  ];
  for (const s of r.streams) {
    const span =
      s.endedAtMs !== undefined
        ? `${formatTime(s.startedAtMs)}–${formatTime(s.endedAtMs)}`
        : `${formatTime(s.startedAtMs)}–`;
    lines.push(
      `  stream ${s.streamSid} ${span} (${s.endedBy ?? 'open'}): sent ${s.mediaSent} media, ${s.dtmfSent} dtmf; ` +
        `got ${s.mediaMessages} media, ${s.marksEchoed} marks echoed, ${s.clears} clear(s) dropping ${Math.round(s.clearedMs)} ms`,
    );
  }
  for (const d of r.dialed ?? []) lines.push(`  dialed ${maskE164(d.target)}: ${d.result}`);
  if (r.violations.length === 0) lines.push('  no protocol violations');
  else {
    lines.push(`  ${r.violations.length} violation(s):`);
    for (const v of r.violations) lines.push(`    - ${v}`);
  }
  return lines;
}
