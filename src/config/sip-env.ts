import { isIP } from 'node:net';

/**
 * The SIP listener's environment: off unless SIP_PORT is set. SIP_HOST defaults to the HTTP
 * listener's HOST ("localhost" binds 127.0.0.1); SIP_PUBLIC_ADDRESS (written into Contact, Via and SDP c=) to the bound
 * address, which must then be a concrete one: a wildcard in c= would tell peers to send nowhere.
 */

export interface SipEnv {
  readonly port: number;
  readonly host: string;
  readonly publicAddress: string;
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
}

export class SipEnvError extends Error {
  override name = 'SipEnvError';
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = /^\d{1,5}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SipEnvError(`${name} must be an integer between ${min} and ${max} (got "${raw.slice(0, 40)}")`);
  }
  return n;
}

/** Undefined when SIP is off (SIP_PORT unset or empty); throws SipEnvError on a bad value. */
export function loadSipEnv(env: NodeJS.ProcessEnv, defaultHost: string): SipEnv | undefined {
  if (env.SIP_PORT === undefined || env.SIP_PORT.trim() === '') return undefined;
  const port = intVar(env, 'SIP_PORT', 5060, 0, 65535);
  const given = env.SIP_HOST?.trim() || defaultHost;
  const host = given === 'localhost' ? '127.0.0.1' : given;
  if (isIP(host) === 0) {
    throw new SipEnvError(`SIP_HOST must be an IP address to bind (got "${host.slice(0, 60)}")`);
  }
  const publicAddress = env.SIP_PUBLIC_ADDRESS?.trim() || host;
  if (WILDCARDS.has(publicAddress)) {
    throw new SipEnvError(
      `SIP_PUBLIC_ADDRESS must be set when SIP_HOST is the wildcard ${host}: it goes into Contact, Via and SDP c=, where peers send to it`,
    );
  }
  // an IP, not a name: SDP c= with a host name is not understood by every peer
  if (isIP(publicAddress) === 0) {
    throw new SipEnvError(`SIP_PUBLIC_ADDRESS must be an IP address (got "${publicAddress.slice(0, 60)}")`);
  }
  const rtpPortMin = intVar(env, 'RTP_PORT_MIN', 20000, 1024, 65535);
  const rtpPortMax = intVar(env, 'RTP_PORT_MAX', 20999, 1024, 65535);
  const firstEven = rtpPortMin + (rtpPortMin % 2);
  if (firstEven + 1 > rtpPortMax) {
    throw new SipEnvError(
      `RTP_PORT_MIN..RTP_PORT_MAX (${rtpPortMin}..${rtpPortMax}) must hold at least one even/odd port pair`,
    );
  }
  return { port, host, publicAddress, rtpPortMin, rtpPortMax };
}
