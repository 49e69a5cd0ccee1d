/**
 * `omni-phone-bridge doctor`: what a deployment still lacks before a real number can ring it.
 * One line per check — ok, lacks (exit 1), warn, skip — and the webhook URLs to paste into Twilio.
 * It never prints a secret: only whether each is set, and origins of URLs (never paths or queries).
 */
import { parseOrExit, processEnvIo, type CliEnvIo } from './cli-args.js';
import { DOCTOR } from './cli-commands.js';
import { ConfigError, isLoopbackOrigin, loadEnv, type EnvSettings } from './config/loader.js';
import { publicEndpoints } from './server/startup-notes.js';
import { validateDeployment } from './validate.js';
import { tcpReachable } from './net/tcp-reachable.js';

export type CheckStatus = 'ok' | 'lacks' | 'warn' | 'skip';
export interface Check {
  status: CheckStatus;
  what: string;
}

export interface DoctorOptions {
  env: NodeJS.ProcessEnv;
  offline: boolean;
  /** bound of each network check */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/** Clocks further apart than this break Twilio's and Omni's time-bound tokens and make logs unreadable. */
export const MAX_CLOCK_SKEW_MS = 5000;

async function storeCheck(
  name: string,
  raw: string | undefined,
  defaultPort: number,
  timeoutMs: number,
  offline: boolean,
): Promise<Check> {
  if (!raw)
    return {
      status: 'skip',
      what: `${name} not set (${name === 'REDIS_URL' ? 'one replica, in-process state' : 'no control plane'})`,
    };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { status: 'lacks', what: `${name} is not a URL` };
  }
  const where = `${url.hostname}:${url.port || defaultPort}`;
  if (offline) return { status: 'skip', what: `${name} ${where} not contacted (--offline)` };
  const why = await tcpReachable(url.hostname, Number(url.port) || defaultPort, timeoutMs);
  return why
    ? { status: 'lacks', what: `${name} ${where} does not answer (${why})` }
    : { status: 'ok', what: `${name} ${where} accepts connections` };
}

/** PUBLIC_URL over TLS, answering /healthz; and the clock, from that answer's Date header. */
async function publicUrlChecks(settings: EnvSettings, opts: DoctorOptions, timeoutMs: number): Promise<Check[]> {
  const out: Check[] = [];
  const pub = settings.publicUrl;
  if (!opts.env.PUBLIC_URL) out.push({ status: 'lacks', what: `PUBLIC_URL not set: Twilio cannot reach ${pub}` });
  else if (isLoopbackOrigin(pub))
    out.push({
      status: 'lacks',
      what: `PUBLIC_URL ${pub} is this machine only: Twilio cannot reach it (a tunnel or a TLS proxy gives a public https:// origin)`,
    });
  else if (!pub.startsWith('https:'))
    out.push({
      status: 'lacks',
      what: `PUBLIC_URL ${pub} is not https: Media Streams need wss://, so Twilio needs TLS`,
    });
  else out.push({ status: 'ok', what: `PUBLIC_URL ${pub} is a public https origin` });
  if (opts.offline || !opts.env.PUBLIC_URL) {
    out.push({ status: 'skip', what: `${pub}/healthz not fetched${opts.offline ? ' (--offline)' : ''}` });
    out.push({ status: 'skip', what: 'clock not compared' });
    return out;
  }
  const doFetch = opts.fetch ?? fetch;
  const sentAt = (opts.now ?? Date.now)();
  try {
    const res = await doFetch(`${pub}/healthz`, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    const rtt = (opts.now ?? Date.now)() - sentAt;
    out.push(
      res.ok
        ? { status: 'ok', what: `${pub}/healthz answers ${res.status}: the bridge is reachable there` }
        : {
            status: 'lacks',
            what: `${pub}/healthz answers ${res.status}: something else answers at PUBLIC_URL, or the proxy does not forward to the bridge`,
          },
    );
    const date = Date.parse(res.headers.get('date') ?? '');
    if (Number.isNaN(date)) out.push({ status: 'skip', what: 'clock not compared (no Date header)' });
    else {
      // The Date header has whole seconds: up to 1 s plus the round trip is rounding, not skew.
      const skew = Math.abs(date + 500 - (sentAt + rtt / 2));
      out.push(
        skew <= MAX_CLOCK_SKEW_MS + 1000 + rtt
          ? { status: 'ok', what: `clock within ${MAX_CLOCK_SKEW_MS / 1000} s of ${pub}'s` }
          : {
              status: 'lacks',
              what: `clock ${Math.round(skew / 1000)} s away from ${pub}'s: run NTP (timedatectl set-ntp true, chrony)`,
            },
      );
    }
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    const tls = /CERT|SSL|TLS/i.test(cause) ? ': the TLS certificate is not valid for this name' : '';
    out.push({ status: 'lacks', what: `${pub}/healthz unreachable (${cause})${tls}` });
    out.push({ status: 'skip', what: 'clock not compared' });
  }
  return out;
}

export async function runChecks(opts: DoctorOptions): Promise<{ checks: Check[]; paste?: string[] }> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  let settings: EnvSettings;
  try {
    settings = loadEnv(opts.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { checks: [{ status: 'lacks', what: `environment: ${err.message} (validate lists every problem)` }] };
  }
  const checks: Check[] = [];
  const report = await validateDeployment({ env: opts.env, offline: true });
  checks.push(
    report.problems.length
      ? { status: 'lacks', what: `configuration ${report.file}: ${report.problems.length} problem(s); run validate` }
      : { status: 'ok', what: `configuration ${report.file} is valid` },
  );
  checks.push(...(await publicUrlChecks(settings, opts, timeoutMs)));
  checks.push(
    settings.pyaiApiKey
      ? { status: 'ok', what: 'PYAI_API_KEY set' }
      : opts.env.PYAI_BASE_URL
        ? { status: 'warn', what: `PYAI_API_KEY not set: the engine at PYAI_BASE_URL must accept calls without a key` }
        : { status: 'lacks', what: 'PYAI_API_KEY not set: calls reach the built-in OFFLINE engine, not an agent' },
  );
  if (settings.skipSignatureValidation)
    checks.push({ status: 'lacks', what: 'TWILIO_SIGNATURE_VALIDATION=off: anyone can post webhooks; unset it' });
  else if (!settings.twilioAuthToken)
    checks.push({ status: 'lacks', what: 'TWILIO_AUTH_TOKEN not set: every Twilio request is refused (403)' });
  else checks.push({ status: 'ok', what: 'Twilio signature checks on (TWILIO_AUTH_TOKEN set)' });
  checks.push(
    settings.twilioAccountSid
      ? { status: 'ok', what: 'TWILIO_ACCOUNT_SID set: transfers, hang-ups and DTMF by <Play> work' }
      : { status: 'warn', what: 'TWILIO_ACCOUNT_SID not set: transfers, hang-ups and DTMF by <Play> are unavailable' },
  );
  checks.push(await storeCheck('REDIS_URL', opts.env.REDIS_URL, 6379, timeoutMs, opts.offline));
  checks.push(await storeCheck('DATABASE_URL', opts.env.DATABASE_URL, 5432, timeoutMs, opts.offline));
  const e = publicEndpoints(settings);
  const paste = [
    `  A call comes in:      Webhook, HTTP POST, ${e.voiceWebhook}`,
    `  Call status changes:  HTTP POST, ${e.statusCallback}`,
    ...(e.console ? [`  operator console:     ${e.console}`] : []),
  ];
  return { checks, paste };
}

export async function runDoctor(argv: readonly string[], io: CliEnvIo = processEnvIo()): Promise<number> {
  const args = parseOrExit(DOCTOR, argv, io);
  if (args.exit !== undefined) return args.exit;
  const { checks, paste } = await runChecks({ env: io.env, offline: args.values.offline === true });
  const width = 5;
  io.out(`${checks.map((c) => `${c.status.padEnd(width)} ${c.what}`).join('\n')}\n`);
  if (paste) io.out(`\nPaste into the Twilio number's configuration:\n${paste.join('\n')}\n`);
  const lacking = checks.filter((c) => c.status === 'lacks').length;
  io.out(lacking ? `\n${lacking} thing(s) lacking.\n` : '\nNothing lacking.\n');
  return lacking ? 1 : 0;
}
