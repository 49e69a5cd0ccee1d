/** How a failed Omni connect is reported: a typed error plus the close code it amounts to. */

export type OmniConnectFailure = 'timeout' | 'http' | 'network' | 'closed' | 'aborted' | 'config';

/** Why connect() failed. The message never contains the API key. */
export class OmniConnectError extends Error {
  constructor(
    message: string,
    readonly kind: OmniConnectFailure,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'OmniConnectError';
  }
}

/**
 * The close code reported for a connect that failed, chosen so that classifyClose() gives the
 * right policy: an HTTP 401/403 at the upgrade is the same verdict as a 4401/4403 close.
 */
export function connectFailureCode(err: OmniConnectError): number {
  switch (err.kind) {
    case 'aborted':
      return 1000;
    case 'config':
      return 1008;
    case 'http':
      if (err.status === 401) return 4401;
      if (err.status === 403) return 4403;
      if (err.status === 429) return 4429;
      return err.retryable ? 1011 : 1008;
    default:
      return 1006;
  }
}
