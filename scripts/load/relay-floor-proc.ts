/**
 * The transport floor (scripts/bench-floor.ts): the least any Twilio ↔ Omni bridge written on
 * Node and `ws` must do per call and 20 ms — no audio work, no sessions, no metrics. Per caller
 * frame: parse the Twilio JSON, decode the base64, send one 961-byte binary frame (tag + 20 ms of
 * PCM16 at 24 kHz, what the bridge sends the engine) to the engine; per engine frame: base64 160
 * bytes into a Twilio media message; a mark every 25 frames, as the bridge sends them.
 * Args: <port> <enginePort>. Tells the parent over IPC when it listens; exits with it.
 */
import { WebSocket, WebSocketServer } from 'ws';

const [port, enginePort] = process.argv.slice(2).map(Number) as [number, number];
const ENGINE_FRAME = Buffer.alloc(961);
const MARK_EVERY = 25;

const wss = new WebSocketServer({ port, host: '127.0.0.1' });
wss.on('connection', (twilio) => {
  const engine = new WebSocket(`ws://127.0.0.1:${enginePort}`);
  let streamSid = '';
  let sent = 0;
  twilio.on('message', (data: Buffer) => {
    const msg = JSON.parse(data.toString()) as { event: string; streamSid?: string; media?: { payload: string } };
    if (msg.event !== 'media' || !msg.media) return;
    streamSid = msg.streamSid ?? streamSid;
    if (Buffer.from(msg.media.payload, 'base64').length > 0 && engine.readyState === WebSocket.OPEN)
      engine.send(ENGINE_FRAME);
  });
  engine.on('message', (data: Buffer) => {
    twilio.send(
      `{"event":"media","streamSid":"${streamSid}","media":{"payload":"${data.subarray(1, 161).toString('base64')}"}}`,
    );
    if (++sent % MARK_EVERY === 0)
      twilio.send(`{"event":"mark","streamSid":"${streamSid}","mark":{"name":"1:${sent}"}}`);
  });
  engine.on('error', () => twilio.close());
  twilio.on('close', () => engine.close());
});
wss.on('listening', () => process.send?.('ready'));
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
