/**
 * An in-memory telephony leg (src/call/leg.ts): what the call core sends is recorded, what a
 * caller would send is injected by the test, and control requests answer as the test says. No
 * socket, no wire format: CallSession, playback and call control run on it in unit tests.
 */
import type { LegListener, LegMedia, LegResult, TelephonyLeg } from '../../src/call/leg.js';
import type { TransferTarget } from '../../src/config/schema.js';

export type SentItem = { kind: 'audio'; bytes: Uint8Array } | { kind: 'mark'; name: string } | { kind: 'clear' };

/** One attached stream: records what the core sends; its marks are echoed when the test plays them. */
export class MemoryMedia implements LegMedia {
  readonly sent: SentItem[] = [];
  closed = false;
  /** the transport is behind (the test sets it) */
  behind = false;
  private echoed = 0;

  constructor(
    readonly id = 'MZmemory',
    private readonly listener?: LegListener,
  ) {}

  sendAudio(mulaw: Uint8Array): void {
    this.sent.push({ kind: 'audio', bytes: Uint8Array.from(mulaw) }); // the core reuses its buffer
  }

  sendMark(name: string): void {
    this.sent.push({ kind: 'mark', name });
  }

  sendClear(): void {
    this.sent.push({ kind: 'clear' });
    this.echoed = this.sent.length; // marks before a clear come back stale, if at all: none here
  }

  backlogged(): boolean {
    return this.behind;
  }

  close(): void {
    this.closed = true;
  }

  /** Every caller-bound μ-law byte so far, in order. */
  get audio(): Uint8Array {
    const chunks = this.sent.flatMap((s) => (s.kind === 'audio' ? [s.bytes] : []));
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  count(kind: SentItem['kind']): number {
    return this.sent.filter((s) => s.kind === kind).length;
  }

  /** The caller's playout reached everything sent: the marks not yet echoed come back, in order. */
  playMarks(): number {
    const due = this.sent.slice(this.echoed).flatMap((s) => (s.kind === 'mark' ? [s.name] : []));
    this.echoed = this.sent.length;
    for (const name of due) this.listener?.onMark(name);
    return due.length;
  }

  // The caller's side of the stream.
  media(mulaw: Uint8Array, timestampMs?: number): void {
    this.listener?.onMedia(mulaw, timestampMs);
  }

  dtmf(digit: string): void {
    this.listener?.onDtmf(digit);
  }

  stop(why = 'stop'): void {
    this.listener?.onStreamEnded(this, why);
  }
}

export type LegAction =
  | { kind: 'hangup' }
  | { kind: 'hangup_with_message'; message: string }
  | { kind: 'transfer'; target: TransferTarget }
  | { kind: 'digits'; digits: string };

/** The call's control: every request is recorded in `actions` and answered by `answer`. */
export class MemoryLeg implements TelephonyLeg {
  readonly actions: LegAction[] = [];
  unavailable: string | undefined = undefined;
  resumeKey: string | undefined = undefined;
  /** how transfer and sendDigits answer (the test may change it) */
  answer: LegResult = { ok: true };
  /** a media restart the leg expects (the test sets it, as Twilio's `<Play digits>` would); 0: none */
  restartMs = 0;
  private hungUp = false;

  async hangup(): Promise<void> {
    if (this.hungUp) return; // once per call, as every leg
    this.hungUp = true;
    this.actions.push({ kind: 'hangup' });
  }

  async hangupWithMessage(message: string): Promise<void> {
    this.hungUp = true;
    this.actions.push({ kind: 'hangup_with_message', message });
  }

  async transfer(target: TransferTarget): Promise<LegResult> {
    this.actions.push({ kind: 'transfer', target });
    return this.answer;
  }

  async sendDigits(digits: string): Promise<LegResult> {
    this.actions.push({ kind: 'digits', digits });
    return this.answer;
  }

  mediaRestartMs(): number {
    return this.restartMs;
  }

  mediaAttached(): void {
    this.restartMs = 0;
  }

  kinds(): LegAction['kind'][] {
    return this.actions.map((a) => a.kind);
  }
}
