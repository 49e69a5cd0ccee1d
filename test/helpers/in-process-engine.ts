/**
 * An engine link with no socket: the test is the engine. It records what the session sends
 * (caller audio, DTMF, tool results) and lets the test speak (agent audio) and emit engine
 * events, on the EngineLink the session already listens to.
 */
import { EngineLink, type EngineLinkOptions } from '../../src/call/engine-link.js';
import type { OmniEvent } from '../../src/omni/events.js';

export class InProcessEngine extends EngineLink {
  /** caller audio frames at the engine rate, copied */
  readonly heard: Int16Array[] = [];
  readonly dtmf: string[] = [];
  readonly toolResults: { callId: string; name: string; output: unknown }[] = [];
  closedByBridge = false;

  constructor(readonly options: EngineLinkOptions) {
    super(options);
  }

  /** Ready at once (the engine said hello): the session's `ready` handling runs on the next microtask. */
  override start(): void {
    this.state = 'ready';
    queueMicrotask(() => this.emit('ready'));
  }

  override get engineAlive(): boolean {
    return this.state === 'ready';
  }

  override sendAudio(frame: Int16Array): void {
    if (this.state !== 'ended') this.heard.push(frame.slice());
  }

  override sendDtmf(digit: string): void {
    if (this.state === 'ready') this.dtmf.push(digit);
  }

  override sendToolResult(callId: string, name: string, output: unknown): boolean {
    if (this.state !== 'ready') return false;
    this.toolResults.push({ callId, name, output });
    return true;
  }

  override end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.closedByBridge = true;
    this.emit('ended', 1000);
  }

  /** Agent audio, as the engine's audio frames would deliver it. */
  say(pcm: Int16Array, rate = this.options.rate): void {
    this.options.onAudio(pcm, rate);
  }

  event(ev: OmniEvent): void {
    this.emit('event', ev);
  }
}
