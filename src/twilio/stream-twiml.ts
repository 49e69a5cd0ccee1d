import type { BridgeSettings } from '../config/schema.js';
import { connectStreamTwiml } from './twiml.js';

/** wss URL of the media route; Twilio drops query strings, so per-call data goes in Parameters. */
export function mediaStreamUrl(publicUrl: string): string {
  const u = new URL(publicUrl);
  return `wss://${u.host}/twilio/media`;
}

/**
 * The stream's `<Parameter>`s: only the call's stream token (src/twilio/stream-token.ts), which
 * carries the agent, From and To under the bridge's MAC. Nothing else is sent, since nothing
 * else from `start.customParameters` is ever believed.
 */
export function streamParameters(token: string): Record<string, string> {
  return { token };
}

/** `<Connect><Stream>` to this bridge with the call's stream token, then the configured after-stream verb. */
export function agentStreamTwiml(
  publicUrl: string,
  settings: BridgeSettings,
  params: { token: string; say?: string },
): string {
  const after = settings.after_stream === 'hangup' ? ('hangup' as const) : { dial: settings.after_stream.dial };
  return connectStreamTwiml({
    streamUrl: mediaStreamUrl(publicUrl),
    parameters: streamParameters(params.token),
    after,
    ...(params.say ? { say: params.say } : {}),
  });
}
