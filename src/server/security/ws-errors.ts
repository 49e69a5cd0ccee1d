import type { FastifyRequest } from 'fastify';
import { WebSocket } from 'ws';
import type { Logger } from '../../observability/logger.js';

/**
 * The `errorHandler` for @fastify/websocket. Its default one calls `terminate()` — destroys the
 * TCP socket — on every `'error'` a route's WebSocket emits, and it is registered before the
 * route's own listeners, so it runs first.
 *
 * On a server socket, ws emits `'error'` only for a peer that broke the protocol (a frame over
 * `maxPayload`, bad UTF-8, a bad opcode…), and only after it has started closing the socket
 * itself: it has written the close frame with its code (1009, 1007, 1002…), and ends the socket
 * once that frame is out, reading and discarding whatever the peer still sends. Destroying the
 * socket at that point throws away the close frame whenever it is still in Node's write buffer
 * (a socket whose writes the write coalescer holds until the end of the batch, or one whose
 * kernel buffer is full), and resets the connection (RST) when the peer's unread bytes are still
 * in the receive queue: the peer sees 1006 instead of the code. So here a socket ws is already
 * closing is left to ws; only an error from the route handler itself (the socket still open)
 * is logged and terminates the socket, as before.
 */
export function websocketErrorHandler(logger: Logger) {
  return function onWebsocketError(error: Error, socket: WebSocket, request: FastifyRequest): void {
    if (socket.readyState === WebSocket.CLOSING || socket.readyState === WebSocket.CLOSED) return;
    logger.error({ err: error.message, route: request.routeOptions?.url }, 'websocket handler failed');
    socket.terminate();
  };
}
