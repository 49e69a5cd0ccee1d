/**
 * What the bridge does to each socket a WebSocket of its hot path speaks on — the media sockets
 * from Twilio and the engine sockets — in one place, so the two sides cannot drift apart:
 * shared reads with the fast receive path (`bridge.shared_read_buffer`) and write coalescing
 * (`bridge.write_coalesce_ms`).
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { readIntoSharedBuffer } from './shared-read.js';
import type { HeldSocket, HoldMeter, WriteCoalescer } from './write-coalescer.js';
import { fastReceive } from './ws-fast-receive.js';

export class SocketTuning {
  constructor(
    /** holds writes to the end of each batch of ready sockets; absent when write_coalesce_ms is 0 */
    readonly coalescer: WriteCoalescer | undefined,
    /** sockets read into the process's shared buffer, whole frames parsed there */
    readonly sharedReads: boolean,
  ) {}

  /**
   * Applies both to `socket`, the one `ws` speaks on. Returns its place in the write coalescer
   * (`hold()` before each write), or undefined when coalescing is off.
   */
  apply(socket: Socket, ws: WebSocket, meter?: HoldMeter): HeldSocket | undefined {
    if (this.sharedReads) readIntoSharedBuffer(socket, fastReceive(ws));
    return this.coalescer?.attach(socket, meter);
  }
}
