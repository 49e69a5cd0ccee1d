import { registerConsole } from './console/routes.js';
import { buildServer, type Bridge, type BridgeOptions } from './server/app.js';

export type { Bridge, BridgeOptions };

/**
 * The bridge as it runs: the server (Twilio, SIP, admin, control plane) with the console mounted
 * on it. The console sits above the server, so the server never imports it.
 */
export function buildBridge(opts: BridgeOptions): Promise<Bridge> {
  return buildServer({ ...opts, mount: (app, ctx, extras) => registerConsole(app, ctx, extras) });
}
