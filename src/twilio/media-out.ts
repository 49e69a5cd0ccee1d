import type { LegMedia } from '../call/leg.js';
import { MediaEncoder, buildClear, buildMark } from './messages.js';

/** The socket of one Media Stream as the writer needs it (the media route's connection). */
export interface TextSocket {
  /** one text message (a Buffer holds its UTF-8 bytes) */
  send(text: string | Buffer): void;
  /** bytes queued in the socket, not yet written */
  readonly bufferedAmount: number;
  close(): void;
}

/** Twilio's socket is this far behind (bytes, ~5 s of media) before agent audio waits in the playback queue. */
const MAX_TWILIO_BUFFERED = 256 * 1024;

/**
 * A Media Stream as a leg's media: frames, marks and clears written as Twilio's JSON messages
 * (messages.ts), on the stream's own socket. The streamSid passed the start schema's alphabet.
 */
export class TwilioMediaOut implements LegMedia {
  private readonly media: MediaEncoder;

  constructor(
    readonly id: string,
    private readonly socket: TextSocket,
  ) {
    this.media = new MediaEncoder(id);
  }

  /** One media message for the whole chunk: Twilio plays any size in order. */
  sendAudio(mulaw: Uint8Array): void {
    this.socket.send(this.media.encodeFrame(mulaw));
  }

  sendMark(name: string): void {
    this.socket.send(buildMark(this.id, name));
  }

  sendClear(): void {
    this.socket.send(buildClear(this.id));
  }

  backlogged(): boolean {
    return this.socket.bufferedAmount > MAX_TWILIO_BUFFERED;
  }

  close(): void {
    this.socket.close();
  }
}
