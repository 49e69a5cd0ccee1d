/**
 * Shared read buffer: a socket's reads land in one buffer shared by every socket of the process,
 * and each read's bytes are copied out into a small pooled Buffer before `'data'` is emitted.
 *
 * Why: by default Node gives every read of every socket a fresh 64 KB allocation (malloc), shrinks
 * it to the bytes read (realloc), wraps it in a new ArrayBuffer with external-memory accounting,
 * and pushes it through the Readable stream's machinery — for a 300-byte Twilio message or a
 * 1 KB engine frame, 50 times a second per socket. Node's own `onread` option (a user buffer)
 * skips all of that, but only for sockets it creates; the media sockets are accepted by the HTTP
 * server and the engine sockets are made by `ws`. This applies the same mechanism to a socket
 * that already exists. The copy out is a memcpy into Node's 8 KB Buffer pool.
 *
 * It reaches into Node internals (the stream's `kBuffer`/`kBufferCb` symbols and the handle's
 * `useUserBuffer`), so it checks each one and leaves the socket as it was when anything is
 * missing: the default path always works. Reads are synchronous on the one JS thread and the
 * bytes are copied before any listener runs, so one buffer can serve every socket.
 */
import type { Socket } from 'node:net';

/** As large as Node's own read size: one read drains as much as it would by default. */
const SHARED = Buffer.allocUnsafeSlow(64 * 1024);

interface Symbols {
  buffer: symbol;
  cb: symbol;
  gen: symbol;
}
let symbols: Symbols | null | undefined;

function lookup(socket: object): Symbols | null {
  if (symbols !== undefined) return symbols;
  const own = Object.getOwnPropertySymbols(socket);
  const find = (name: string) => own.find((s) => s.description === name);
  const buffer = find('kBuffer');
  const cb = find('kBufferCb');
  const gen = find('kBufferGen');
  symbols = buffer && cb && gen ? { buffer, cb, gen } : null;
  return symbols;
}

/** How many sockets were switched (and how many asked for it kept the default) in this process. */
export const sharedReadStats = { switched: 0, kept: 0 };

type Slots = Record<symbol, unknown> & { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } | null };

/**
 * Why readIntoSharedBuffer would leave `socket` on the default path, or undefined when it would
 * switch it. Changes nothing: the start-up probe (fast-path-probe.ts) asks it of a loopback socket.
 */
export function sharedReadProblem(socket: Socket): string | undefined {
  const slots = socket as unknown as Slots;
  const handle = slots._handle;
  if (!handle) return 'the socket has no handle (closed or not connected)';
  if (typeof handle.useUserBuffer !== 'function') return "this Node's socket handle has no useUserBuffer";
  const s = lookup(socket);
  if (!s) return "this Node's net.Socket has no kBuffer/kBufferCb/kBufferGen symbols";
  if (socket.destroyed) return 'the socket is destroyed';
  if ((socket as { encrypted?: boolean }).encrypted) return 'TLS socket (kept on the default path)';
  if (slots[s.buffer] !== null || slots[s.gen] !== null) return 'the socket already reads into a user buffer';
  return undefined;
}

/**
 * Switches `socket`'s reads to the shared buffer. `take`, if given, sees each read first and
 * returns how many bytes it consumed itself (ws-fast-receive.ts); the rest is emitted as data.
 * Returns false (and changes nothing) when the socket is not a live plain-TCP socket or this Node
 * does not have the mechanism. TLS sockets (a `wss://` engine) keep the default: their handle
 * decrypts on its own read path, which this has not been measured or tested on.
 */
export function readIntoSharedBuffer(socket: Socket, take?: (buf: Buffer, end: number) => number): boolean {
  const slots = socket as unknown as Slots;
  const handle = slots._handle;
  if (sharedReadProblem(socket) !== undefined) {
    sharedReadStats.kept++;
    return false;
  }
  const s = symbols!;
  slots[s.buffer] = SHARED;
  slots[s.cb] = (nread: number): void => {
    const used = take ? take(SHARED, nread) : 0;
    if (used === nread) return;
    const chunk = Buffer.allocUnsafe(nread - used);
    SHARED.copy(chunk, 0, used, nread);
    socket.emit('data', chunk);
  };
  handle!.useUserBuffer!(SHARED);
  sharedReadStats.switched++;
  return true;
}
