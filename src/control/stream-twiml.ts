import type { BridgeSettings } from '../config/schema.js';
import { connectStreamTwiml } from '../twilio/twiml.js';

/** wss URL of the media route; Twilio drops query strings, so per-call data goes in Parameters. */
export function mediaStreamUrl(publicUrl: string): string {
  const u = new URL(publicUrl);
  return `wss://${u.host}/twilio/media`;
}

/** `<Connect><Stream>` to this bridge for an agent, then the configured after-stream verb. */
export function agentStreamTwiml(
  publicUrl: string,
  settings: BridgeSettings,
  params: { agent: string; from?: string; to?: string; resume?: string; token?: string },
): string {
  const parameters: Record<string, string> = { agent: params.agent };
  if (params.from) parameters.from = params.from;
  if (params.to) parameters.to = params.to;
  if (params.resume) parameters.resume = params.resume;
  if (params.token) parameters.token = params.token;
  const after = settings.after_stream === 'hangup' ? 'hangup' as const : { dial: settings.after_stream.dial };
  return connectStreamTwiml({ streamUrl: mediaStreamUrl(publicUrl), parameters, after });
}
