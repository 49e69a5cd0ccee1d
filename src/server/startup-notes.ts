/**
 * What start-up tells an operator beyond "listening": the URLs to paste into Twilio and the
 * console's address, and which REST credential is missing. Pure functions of the environment, so
 * `serve`, `doctor` and the tests print the same words.
 */
import type { EnvSettings } from '../config/loader.js';

/** The webhook URLs a Twilio number needs, and the console's URL when ADMIN_TOKEN enables it. */
export interface PublicEndpoints {
  /** the number's "A call comes in" webhook (HTTP POST) */
  voiceWebhook: string;
  /** the number's "Call status changes" callback (HTTP POST) */
  statusCallback: string;
  /** the operator console, only with ADMIN_TOKEN set (without it every /console path is a 404) */
  console?: string;
}

export function publicEndpoints(env: Pick<EnvSettings, 'publicUrl' | 'adminToken'>): PublicEndpoints {
  const base = env.publicUrl.replace(/\/+$/, '');
  return {
    voiceWebhook: `${base}/twilio/voice`,
    statusCallback: `${base}/twilio/status`,
    ...(env.adminToken ? { console: `${base}/console` } : {}),
  };
}

/**
 * The warning when REST call control is off: it names only the variable(s) actually missing, so
 * an operator who set the auth token is not sent looking for it.
 */
export function restMissingWarning(env: Pick<EnvSettings, 'twilioAccountSid' | 'twilioAuthToken'>): string {
  const missing = [
    env.twilioAccountSid ? undefined : 'TWILIO_ACCOUNT_SID',
    env.twilioAuthToken ? undefined : 'TWILIO_AUTH_TOKEN',
  ].filter((n): n is string => !!n);
  const verb = missing.length > 1 ? 'are' : 'is';
  return `${missing.join(' and ')} ${verb} not set: transfers, hang-ups and DTMF by <Play> are unavailable`;
}
