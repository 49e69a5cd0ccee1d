/**
 * A fast path in front of `ws`'s receiver: complete, unfragmented data frames are parsed straight
 * out of the shared read buffer (shared-read.ts) and handed to the receiver's own `'message'`
 * listener, so `ws` turns them into `'message'` events exactly as it would have.
 *
 * Why: `ws` parses every frame through a Writable stream (write, buffering bookkeeping, callback)
 * and slices it with up to six typed-array views (header, mask, payload, and the rest of the chunk
 * after each). For the bridge's traffic — one ~300-byte text frame from Twilio and one ~1 KB binary
 * frame from the engine per socket every 20 ms, nearly always whole within one read — that was
 * the largest piece of the receive path left in the profile. Here a frame costs one pooled copy.
 *
 * It only ever takes the plain case, and only while the receiver is idle between messages (no
 * bytes buffered, no fragmented message open, no close frame seen, not errored). Anything else —
 * a control frame, a fragment, RSV bits, a mask bit the receiver does not expect, a 64-bit or zero
 * length, a payload over the receiver's `maxPayload`, text that is not valid UTF-8, a frame cut by
 * the end of the read — stops the fast path at that frame's first byte, and the rest of the read
 * goes to `ws` as ordinary data: its checks, its errors and close codes, its ping/pong. A test
 * drives thousands of random and malformed frame streams through `ws` alone and through this path
 * and requires the same events (test/unit/net/ws-fast-receive.test.ts).
 *
 * It reads private fields of `ws`'s Receiver (the version in package-lock, 8.x); when they are
 * not what it expects, it takes nothing and `ws` does all the work.
 */
import { isUtf8 } from 'node:buffer';
import type { WebSocket } from 'ws';

/** The parts of ws's Receiver this reads (receiver.js; private, so checked at every use). */
interface WsReceiver {
  _state: number;
  _bufferedBytes: number;
  _fragmented: number;
  _opcode: number;
  _errored: boolean;
  _isServer: boolean;
  _maxPayload: number;
  _binaryType: string;
  _skipUTF8Validation: boolean;
  _allowSynchronousEvents: boolean;
  writableLength: number;
  writableEnded: boolean;
  destroyed: boolean;
  emit(event: 'message', data: Buffer, isBinary: boolean): boolean;
}

/** receiver.js: GET_INFO, the state between frames */
const GET_INFO = 0;
const CLOSE = 0x08;

/** The receiver, if it is one this code knows and it sits between messages. */
function idleReceiver(ws: WebSocket): WsReceiver | undefined {
  const r = (ws as unknown as { _receiver?: WsReceiver })._receiver;
  if (!r || r._state !== GET_INFO || r._bufferedBytes !== 0 || r._fragmented !== 0 || r._opcode === CLOSE)
    return undefined;
  if (r._errored !== false || r._allowSynchronousEvents !== true || typeof r._maxPayload !== 'number') return undefined;
  if (r.writableLength !== 0 || r.writableEnded || r.destroyed) return undefined;
  return r;
}

/** Each private Receiver field this reads, with the type it must have. */
const RECEIVER_FIELDS: Record<string, string> = {
  _state: 'number',
  _bufferedBytes: 'number',
  _fragmented: 'number',
  _opcode: 'number',
  _errored: 'boolean',
  _isServer: 'boolean',
  _maxPayload: 'number',
  _binaryType: 'string',
  _skipUTF8Validation: 'boolean',
  _allowSynchronousEvents: 'boolean',
  writableLength: 'number',
  writableEnded: 'boolean',
  destroyed: 'boolean',
  emit: 'function',
};

/**
 * Why the fast path would take nothing from `ws`, a freshly opened socket, or undefined when it
 * would take its frames. Changes nothing: the start-up probe (fast-path-probe.ts) asks it.
 */
export function fastReceiveProblem(ws: WebSocket): string | undefined {
  const r = (ws as unknown as { _receiver?: Record<string, unknown> })._receiver;
  if (!r || typeof r !== 'object') return 'the ws socket has no _receiver';
  for (const [field, type] of Object.entries(RECEIVER_FIELDS)) {
    if (typeof r[field] !== type) return `ws Receiver.${field} is ${typeof r[field]}, not ${type}`;
  }
  if (r._allowSynchronousEvents !== true) return 'ws Receiver._allowSynchronousEvents is not true';
  if (!idleReceiver(ws)) return 'the ws Receiver of a fresh socket is not idle between messages';
  return undefined;
}

const MASK = Buffer.alloc(4);

/** Frames this process took on the fast path (tests; a plain count is all it costs). */
export const fastReceiveStats = { frames: 0 };

/**
 * A `take` for readIntoSharedBuffer: parses whole data frames from `buf[0, end)` for `ws`'s
 * receiver and returns how many bytes it consumed (the rest goes to `ws` as data).
 */
export function fastReceive(ws: WebSocket): (buf: Buffer, end: number) => number {
  return (buf, end) => {
    let off = 0;
    for (;;) {
      // Again before every frame: a message listener may have closed or errored the socket.
      const r = idleReceiver(ws);
      if (!r || end - off < 2) return off;
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      const opcode = b0 & 0x0f;
      // FIN set, RSV clear, text or binary: the only frames taken here
      if ((b0 & 0xf0) !== 0x80 || (opcode !== 1 && opcode !== 2)) return off;
      const masked = (b1 & 0x80) !== 0;
      if (masked !== r._isServer) return off;
      let len = b1 & 0x7f;
      let at = off + 2;
      if (len === 126) {
        if (end - at < 2) return off;
        len = (buf[at]! << 8) | buf[at + 1]!;
        at += 2;
      } else if (len === 127) return off;
      if (len === 0 || (r._maxPayload > 0 && len > r._maxPayload)) return off;
      if (opcode === 2 && r._binaryType !== 'nodebuffer') return off;
      const maskAt = at;
      if (masked) at += 4;
      if (end - at < len) return off;
      const data = Buffer.allocUnsafe(len);
      buf.copy(data, 0, at, at + len);
      if (masked) {
        buf.copy(MASK, 0, maskAt, maskAt + 4);
        for (let i = 0; i < len; i++) data[i] = data[i]! ^ MASK[i & 3]!;
      }
      // Invalid text is ws's to refuse (1007), from the frame's first byte, which is untouched.
      if (opcode === 1 && !r._skipUTF8Validation && !isUtf8(data)) return off;
      off = at + len;
      fastReceiveStats.frames++;
      r.emit('message', data, opcode === 2);
    }
  };
}
