import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { janitor, startBridgeStack } from '../helpers/bridge-stack.js';

/**
 * A stop is bounded whatever the HTTP peers do: a request whose body never finishes (a webhook
 * still arriving, a stuck proxy) is cut a few seconds into the stop instead of holding it until
 * its own request timeout (here a minute).
 */

const jan = janitor();
afterEach(() => jan.closeAll());

describe('stopping the bridge', () => {
  it('does not wait for a request still in flight past its grace', { timeout: 90_000 }, async () => {
    const h = await startBridgeStack({
      bridge: { http: { request_timeout_ms: 60_000, headers_timeout_ms: 60_000 } },
    });
    const url = new URL(h.bridgeUrl);
    const sock = connect(Number(url.port), url.hostname);
    jan.track({ close: () => sock.destroy() });
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.once('connect', () => r()));
    // headers complete, body promised and never sent: the request is in flight until its timeout
    sock.write(
      'POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nCallSid=CA',
    );
    await new Promise((r) => setTimeout(r, 300));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    const t0 = performance.now();
    await h.close();
    const ms = performance.now() - t0;
    await closed;
    console.info(`stop with a request in flight: ${Math.round(ms)} ms`);
    expect(ms).toBeLessThan(30_000); // a hang guard: without the bound the stop waits out the minute
  });
});
