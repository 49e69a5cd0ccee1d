import { z } from 'zod';
import { toolDefinitionSchema } from '../tools/schema.js';
import { mcpServerSchema } from '../tools/mcp/schema.js';
import { configEnvNameProblem, envFields } from './secret-names.js';
import { closest } from './suggest.js';
import { sipConfigSchema } from './sip-schema.js';
import { checkWebhookUrl, normalizeHost } from '../tools/netguard.js';
import { parseWhisper, unknownPlaceholders, WHISPER_BUILTINS, WHISPER_FIELD_RE } from './whisper-template.js';

/** What a warm target without `whisper` says to the human. */
export const DEFAULT_WHISPER = 'Transferred call from {from_masked} about {reason}.';

/**
 * The configuration file: agents, number routing and non-secret behaviour. Secrets never live
 * here — a field that needs one names the environment variable that holds it (`*_env`).
 *
 * Tool definitions are validated again, in depth, by the tool registry at load; here they are
 * only checked for shape so that the error names the agent and the tool.
 */

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number like +15551234567');

export const transferTargetSchema = z
  .object({
    name: z.string().min(1).max(64),
    kind: z.enum(['number', 'sip', 'client', 'queue']),
    value: z.string().min(1).max(256),
    /** cold: the caller is dialled through; warm: the human hears a whisper first (docs/decisions.md) */
    // optional rather than defaulted: a target built in code (SIP, tests) stays a cold one without naming it
    mode: z.enum(['cold', 'warm']).optional(),
    /** warm: what the human hears before the caller is connected; `{placeholders}`: whisper-template.ts */
    whisper: z.string().min(1).max(1000).optional(),
    /** warm: placeholders the whisper may use besides the built-in ones (transfer_to_human arguments, collect fields) */
    fields: z.array(z.string().regex(WHISPER_FIELD_RE, 'lower-case letters, digits and _ (max 40)')).max(32).optional(),
    /** warm: the key the human presses to take the call; without it, hearing the whisper is accepting */
    accept_key: z
      .string()
      .regex(/^[0-9*#]$/, 'one key: 0-9, * or #')
      .optional(),
    /** warm: seconds the human's phone rings before the caller goes back to the agent (default: transfer.timeout_s) */
    ring_timeout_s: z.number().int().min(5).max(120).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.mode !== 'warm') {
      for (const k of ['whisper', 'accept_key', 'ring_timeout_s', 'fields'] as const)
        if (t[k] !== undefined)
          ctx.addIssue({ code: 'custom', path: [k], message: `only a warm target has ${k}; add mode: warm` });
    } else {
      if (t.kind === 'queue')
        ctx.addIssue({
          code: 'custom',
          path: ['mode'],
          message: 'a queue target cannot be warm (nobody to whisper to); use a number, sip or client target',
        });
      const parsed = parseWhisper(t.whisper ?? DEFAULT_WHISPER);
      if ('error' in parsed) ctx.addIssue({ code: 'custom', path: ['whisper'], message: parsed.error });
      else {
        const unknown = unknownPlaceholders(parsed.pieces, t.fields ?? []);
        if (unknown.length > 0)
          ctx.addIssue({
            code: 'custom',
            path: ['whisper'],
            message: `unknown placeholder${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `{${u}}`).join(', ')}: use one of ${WHISPER_BUILTINS.join(', ')}, or list the argument or collect field in this target's fields`,
          });
      }
    }
    if (t.kind === 'number' && !/^\+[1-9]\d{6,14}$/.test(t.value)) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'a number target must be E.164, like +15551234567' });
    }
    if (t.kind === 'sip' && !/^sips?:[^\s@]+@[^\s]+$/.test(t.value)) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'a sip target must look like sip:user@host' });
    }
    if (t.kind === 'client' && !/^(client:)?[A-Za-z0-9_.-]+$/.test(t.value)) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'a client target is an identity like client:alice' });
    }
  });

/**
 * A signed POST of the call's context to the contact center's desktop at each transfer
 * (src/control/context-webhook.ts): signed and address-checked as tool webhooks are.
 */
export const contextWebhookSchema = z
  .object({
    url: z.string().min(1).max(2048),
    /** names the variable holding the signing secret (X-Bridge-Signature, as tool webhooks) */
    signing_secret_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name'),
    /** one attempt's bound; the transfer never waits for any of them */
    timeout_ms: z.number().int().min(100).max(10_000).default(2000),
    /** more attempts after a 5xx, a timeout or a network error (never after a 4xx) */
    retries: z.number().int().min(0).max(5).default(2),
  })
  .strict();

export const transferSchema = z
  .object({
    targets: z.array(transferTargetSchema).default([]),
    context_webhook: contextWebhookSchema.optional(),
    /** name of the target used when the agent names none or one that is not allowed */
    default: z.string().optional(),
    caller_id: e164.optional(),
    timeout_s: z.number().int().min(5).max(600).default(30),
    answer_on_bridge: z.boolean().default(true),
    /** what happens when the human is busy / does not answer */
    on_no_answer: z.enum(['back_to_agent', 'voicemail', 'hangup']).default('back_to_agent'),
    voicemail_message: z.string().default('Sorry, nobody is available right now. Please call again later. Goodbye.'),
    queue_wait_url: z.string().url().optional(),
    /** wait at most this long for the agent's last words to be played before transferring */
    max_wait_for_playback_ms: z.number().int().min(0).max(30000).default(8000),
  })
  .strict()
  .prefault({});

export const fallbackSchema = z
  .object({
    /** what the caller gets when the engine cannot be reached or the bridge must give up the call */
    action: z.enum(['transfer', 'hangup']).default('hangup'),
    message: z
      .string()
      .max(500)
      .default('Sorry, we are having technical difficulties. Please call again later. Goodbye.'),
    /**
     * the message recorded, for legs that cannot speak text (SIP): a WAV (any rate, mono), relative
     * to the configuration file. Unset: a SIP caller gets the hang-up without words.
     */
    wav: z.string().min(1).optional(),
  })
  .strict()
  .prefault({});

export const agentSchema = z
  .object({
    id: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'letters, digits, _ and - only (max 64)'),
    persona: z.string().min(1, 'the agent needs a persona (its system prompt)'),
    voice_id: z.string().optional(),
    greeting: z.string().optional(),
    consent_line: z.string().optional(),
    kb_endpoint: z.string().url().optional(),
    /** environment variable holding the knowledge-base token */
    kb_token_env: z.string().optional(),
    engine: z
      .object({
        base_url: z.string().optional(),
        rate: z.union([z.literal(8000), z.literal(16000), z.literal(24000)]).optional(),
        session_label: z.string().max(256).optional(),
        /** after the engine socket opens, hello (or session_started / configured / config_ack) must come within this */
        hello_timeout_ms: z.number().int().min(100).max(30000).default(5000),
        /**
         * silence from the engine while the caller waits for a reply (the greeting, or an answer to a
         * caller turn the engine reported finished) is bounded by this; 0 = no bound (docs/decisions.md)
         */
        reply_timeout_ms: z.number().int().min(0).max(120000).default(8000),
        /** past reply_timeout_ms the caller hears the agent's hold audio this long, then the fallback runs */
        reply_hold_ms: z.number().int().min(0).max(30000).default(3000),
        /** at most this many reconnects within reconnect_window_ms; the next drop runs the fallback */
        max_reconnects: z.number().int().min(0).max(20).default(3),
        reconnect_window_ms: z.number().int().min(1000).max(3600000).default(60000),
      })
      .strict()
      .prefault({}),
    tools: z.array(toolDefinitionSchema).default([]),
    /** MCP servers whose tools this agent uses, discovered at run time (docs/tools.md) */
    mcp_servers: z.array(mcpServerSchema).max(16).default([]),
    /**
     * Without an Omni key (the built-in offline engine): this agent's calls run this engine
     * scenario (docs/scenarios.md), its path relative to the configuration file; no effect online.
     */
    offline: z
      .object({ scenario: z.string().min(1) })
      .strict()
      .optional(),
    transfer: transferSchema,
    send_dtmf_mode: z.enum(['inband', 'play_digits']).default('inband'),
    /** in-call keys handled by the bridge itself, e.g. {"0": "transfer"}; off unless configured */
    dtmf_shortcuts: z.record(z.string().regex(/^[0-9*#]$/), z.enum(['transfer', 'hangup'])).default({}),
    hold: z.object({ wav: z.string().optional() }).strict().prefault({}),
    fallback: fallbackSchema,
    end_call: z
      .object({ max_wait_for_goodbye_ms: z.number().int().min(0).max(30000).default(10000) })
      .strict()
      .prefault({}),
  })
  .strict();

export type IvrOption = { agent: string } | { transfer: string } | { hangup: true };

/** One object with exactly one of its keys (not a union: a typo then gets "did you mean"). */
const ivrOptionSchema = z
  .object({
    agent: z.string().optional(),
    transfer: z.string().optional(),
    hangup: z.literal(true).optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    const n = Number(o.agent !== undefined) + Number(o.transfer !== undefined) + Number(o.hangup !== undefined);
    if (n !== 1)
      ctx.addIssue({
        code: 'custom',
        message: 'an option is exactly one of {agent: id}, {transfer: target}, {hangup: true}',
      });
  })
  .transform((o): IvrOption =>
    o.agent !== undefined ? { agent: o.agent } : o.transfer !== undefined ? { transfer: o.transfer } : { hangup: true },
  );

export const ivrSchema = z
  .object({
    prompt: z
      .object({ say: z.string().optional(), play_url: z.string().url().optional() })
      .strict()
      .refine((p) => p.say || p.play_url, 'an IVR prompt needs `say` or `play_url`'),
    options: z.record(z.string().regex(/^[0-9*#]$/, 'a single key 0-9 * #'), ivrOptionSchema),
    timeout_s: z.number().int().min(1).max(60).default(5),
    max_attempts: z.number().int().min(1).max(10).default(3),
    invalid_say: z.string().default('Sorry, that is not a valid choice.'),
    default: ivrOptionSchema,
  })
  .strict();

export const numberRouteSchema = z
  .object({
    /** the route's name in metrics (`route` label) and dashboards: the number itself never is a label */
    name: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/, 'letters, digits, _ and - (max 64), starting with a letter or digit')
      .optional(),
    agent: z.string().optional(),
    ivr: ivrSchema.optional(),
  })
  .strict()
  .refine((r) => r.agent || r.ivr, 'a number route needs `agent` or `ivr`');

export const afterStreamSchema = z.union([z.literal('hangup'), z.object({ dial: e164 }).strict()]);

/** An outbound allow-list entry: a number, a number prefix (`+1555*`), or a sip:/client: pattern. */
export const outboundPatternSchema = z
  .string()
  .max(256)
  .regex(
    /^(\+[1-9]\d{0,14}\*?|sips?:[A-Za-z0-9_.+*-]+@[A-Za-z0-9_.*-]+(:\d{1,5})?|client:[A-Za-z0-9_.*-]+)$/,
    'an outbound pattern is an E.164 number or prefix ("+1555*"), or a sip:user@host / client:name pattern (* = any run of letters, digits, _ . + -)',
  );

export const bridgeSchema = z
  .object({
    /** what runs when the media stream ends without the bridge having moved the call */
    after_stream: afterStreamSchema.default('hangup'),
    tool_ceiling_ms: z.number().int().min(100).max(15000).default(5000),
    preconnect: z
      .object({
        enabled: z.boolean().default(true),
        stream_timeout_ms: z.number().int().min(1000).max(60000).default(10000),
        /**
         * The voice webhook's answer waits (at most this long) until the engine is ready — and, for
         * an agent with a greeting, has begun it — so the stream starts on a speaking agent whatever
         * the engine's distance; meanwhile the caller hears ringing, not dead air. 0 = answer at once.
         */
        answer_wait_ms: z.number().int().min(0).max(5000).default(2000),
      })
      .strict()
      .prefault({}),
    engine_connect_timeout_ms: z.number().int().min(500).max(30000).default(5000),
    /** caller audio held while the engine is not ready (bounded, replayed in order) */
    max_pending_caller_ms: z.number().int().min(200).max(30000).default(5000),
    /**
     * Limits of one Media Streams socket (src/server/routes/media.ts, src/twilio/stream-token.ts).
     * Twilio sends ~50 messages a second of ~300 bytes; the rate limits leave generous headroom.
     */
    media_stream: z
      .object({
        /** a socket without a valid `start` this long after the upgrade is closed */
        start_timeout_ms: z.number().int().min(50).max(60000).default(5000),
        /**
         * how long a stream token minted into TwiML stays valid: Twilio opens the stream within
         * seconds of reading the TwiML (a `<Say>` or `<Play digits>` before it is added to the
         * token it carries), so a leaked token is good for little longer than that
         */
        token_ttl_s: z.number().int().min(5).max(3600).default(30),
        /** sustained messages per second per socket, and the burst on top (a token bucket) */
        max_messages_per_s: z.number().int().min(10).max(100000).default(100),
        burst_messages: z.number().int().min(10).max(1000000).default(500),
        /** sustained bytes per second per socket, and the burst */
        max_bytes_per_s: z
          .number()
          .int()
          .min(1024)
          .max(100000000)
          .default(64 * 1024),
        burst_bytes: z
          .number()
          .int()
          .min(64 * 1024)
          .max(1000000000)
          .default(256 * 1024),
        /** a socket kept over its budget (reads paused) this long is closed */
        close_after_throttled_ms: z.number().int().min(100).max(600000).default(10000),
      })
      .strict()
      .prefault({}),
    /**
     * The HTTP listener's own limits (src/server/security/http-limits.ts, connection-guard.ts): how long a
     * request may take to arrive, and who may hold its connections (each one a file descriptor).
     * Twilio sends a webhook's headers and body at once and gives up after 15 s; nothing slower is
     * Twilio. Applied at start only.
     */
    http: z
      .object({
        /** the request line and headers must be in within this long of the connection opening */
        headers_timeout_ms: z.number().int().min(200).max(60_000).default(5000),
        /** the whole request, body included; slower is cut (408, counted) */
        request_timeout_ms: z.number().int().min(200).max(120_000).default(10_000),
        /** an idle keep-alive connection is closed after this long (above a balancer's idle timeout, behind one) */
        keep_alive_timeout_ms: z.number().int().min(200).max(600_000).default(5000),
        /** connections open at once; lowered at start to what the descriptor limit leaves room for */
        max_connections: z.number().int().min(16).max(1_000_000).default(2048),
        /** of these, room that only connections proven by a Twilio signature (webhooks, live media) may take */
        reserved_connections: z.number().int().min(0).max(500_000).default(256),
        /** connections one address may hold before each has carried a signed Twilio request */
        max_connections_per_source: z.number().int().min(1).max(100_000).default(32),
      })
      .strict()
      .refine((h) => h.headers_timeout_ms <= h.request_timeout_ms, {
        message: 'headers_timeout_ms must not exceed request_timeout_ms (the headers are part of the request)',
        path: ['headers_timeout_ms'],
      })
      .refine((h) => h.reserved_connections < h.max_connections, {
        message: 'reserved_connections must be below max_connections',
        path: ['reserved_connections'],
      })
      .prefault({}),
    /**
     * > 0: messages written while the bridge works through one batch of ready sockets leave together
     * at its end, each held at most this long (ms) — fewer wake-ups of the peers, at up to this much
     * added latency, never more than this bound. On by default because the wake-ups it saves cost
     * more than the hold (measurements: docs/capacity.md). 0 = every message at once.
     */
    write_coalesce_ms: z.number().min(0).max(5).default(1),
    /**
     * Media and engine sockets read into one buffer shared by the process, the bytes copied out per
     * read, instead of a fresh 64 KB allocation per read (src/net/shared-read.ts), and whole data
     * frames are parsed from it before ws's stream machinery (src/net/ws-fast-receive.ts); both fall
     * back to the default path when a private field they read is missing (docs/capacity.md has the
     * cost per frame). false = Node's default reads and ws alone.
     */
    shared_read_buffer: z.boolean().default(true),
    /** how far ahead of real time agent audio is sent to Twilio */
    playback_lead_ms: z.number().int().min(20).max(2000).default(200),
    /**
     * Ceiling of the start-of-reply delay the playout may learn from underruns (an engine that
     * streams at real time with jitter). 0, the default, never delays agent audio: underruns are
     * counted, not traded for latency. See docs/decisions.md.
     */
    playout_jitter_max_ms: z.number().int().min(0).max(1000).default(0),
    /**
     * How long a CallSid is remembered (fleet-wide with REDIS_URL) after its first session-opening
     * webhook or its final status: a replayed webhook or stream for it is refused for that long.
     * Longer than any call (max_call_duration_s is at most 24 h), so a call whose status callback
     * never comes is covered for its whole life.
     */
    call_memory_h: z.number().int().min(1).max(720).default(24),
    /** calls this process takes at once (protects its CPU); with a fleet, `fleet.max_concurrent_calls` bounds the sum */
    max_concurrent_calls: z.number().int().min(1).max(100000).default(500),
    /** several replicas sharing REDIS_URL (src/store/): only read when REDIS_URL is set */
    fleet: z
      .object({
        /** calls the whole fleet takes at once (leases in Redis); unset: only each replica's own limit */
        max_concurrent_calls: z.number().int().min(1).max(1_000_000).optional(),
        /** a directory entry or concurrency lease outlives its replica by at most this long */
        lease_s: z.number().int().min(3).max(300).default(15),
        /** how long an admin hang-up or transfer waits for the replica that holds the call */
        control_timeout_ms: z.number().int().min(100).max(60_000).default(3000),
        /**
         * A draining replica waits this long (its /readyz already 503) before moving its calls, so the
         * balancer's health check has taken it out of rotation and the moved streams land elsewhere.
         * At least the balancer's check interval times its failure count.
         */
        drain_move_after_ms: z.number().int().min(0).max(60_000).default(2000),
        /** what a caller hears while a draining replica moves the call to another */
        move_message: z.string().max(500).default('One moment please.'),
      })
      .strict()
      .prefault({}),
    max_call_duration_s: z.number().int().min(10).max(86400).default(3600),
    busy_message: z.string().default('All our agents are busy right now. Please call again later. Goodbye.'),
    /** include the transcript in call records (opt-in); digit runs that look like card or account numbers are redacted */
    call_record_transcript: z.boolean().default(false),
    /**
     * The fleet's call history in PostgreSQL (only read when DATABASE_URL is set): how long a call
     * is kept, and how many finished calls' records a replica holds while the database is behind
     * (past that, new ones are dropped and counted: bridge_call_records_dropped_total).
     */
    history: z
      .object({
        retention_days: z.number().int().min(1).max(3650).default(90),
        buffer_records: z.number().int().min(10).max(1_000_000).default(10_000),
      })
      .strict()
      .prefault({}),
    /** the console flags a live call as stuck after this long with no audio either way (seconds) */
    console_stuck_after_s: z.number().int().min(1).max(3600).default(10),
    /** hosts that tool webhooks may reach despite the SSRF rules (development only) */
    tool_allow_hosts: z.array(z.string()).default([]),
    /**
     * Who the admin API may call (`POST /admin/calls`): besides the agents' transfer targets, only
     * destinations matching one of these (E.164 prefixes like "+1555*", exact numbers, `sip:`/`client:`
     * patterns where `*` stands for letters, digits and `_ . + -`). Empty: the transfer targets only.
     */
    outbound: z
      .object({
        allow: z.array(outboundPatternSchema).max(1000).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export const configFileSchema = z
  .object({
    default_agent: z.string(),
    agents: z.array(agentSchema).min(1, 'define at least one agent'),
    numbers: z.record(z.string(), numberRouteSchema).default({}),
    bridge: bridgeSchema,
    /** SIP trunks: read only when SIP_PORT turns the SIP listener on */
    sip: sipConfigSchema.optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    // No `*_env` field may name the bridge's own secrets, or any variable without the tool prefix
    // (src/config/secret-names.ts): the file decides where their values are sent.
    for (const f of envFields(cfg)) {
      const problem = configEnvNameProblem(f.name);
      if (problem) ctx.addIssue({ code: 'custom', path: f.path, message: problem });
    }
    const ids = new Set<string>();
    cfg.agents.forEach((a, i) => {
      if (ids.has(a.id))
        ctx.addIssue({ code: 'custom', path: ['agents', i, 'id'], message: `duplicate agent id "${a.id}"` });
      ids.add(a.id);
      const toolNames = new Set<string>();
      a.tools.forEach((t, j) => {
        if (toolNames.has(t.name))
          ctx.addIssue({
            code: 'custom',
            path: ['agents', i, 'tools', j, 'name'],
            message: `duplicate tool name "${t.name}" (names are unique per agent)`,
          });
        toolNames.add(t.name);
      });
      const servers = new Set<string>();
      a.mcp_servers.forEach((m, j) => {
        if (servers.has(m.name))
          ctx.addIssue({
            code: 'custom',
            path: ['agents', i, 'mcp_servers', j, 'name'],
            message: `duplicate MCP server name "${m.name}" (names are unique per agent)`,
          });
        servers.add(m.name);
      });
      const hook = a.transfer.context_webhook;
      if (hook) {
        // The same rules as a tool webhook's URL (src/tools/netguard.ts); the address DNS gives is checked per request.
        const check = checkWebhookUrl(hook.url, new Set(cfg.bridge.tool_allow_hosts.map(normalizeHost)));
        if (!check.ok)
          ctx.addIssue({
            code: 'custom',
            path: ['agents', i, 'transfer', 'context_webhook', 'url'],
            message: `refused: ${check.reason} (the rules of tool webhooks; bridge.tool_allow_hosts for a development host)`,
          });
      }
      const names = new Set(a.transfer.targets.map((t) => t.name));
      if (a.transfer.default && !names.has(a.transfer.default)) {
        ctx.addIssue({
          code: 'custom',
          path: ['agents', i, 'transfer', 'default'],
          message: `"${a.transfer.default}" is not one of this agent's transfer targets`,
        });
      }
    });
    if (!ids.has(cfg.default_agent)) {
      ctx.addIssue({
        code: 'custom',
        path: ['default_agent'],
        message: `no agent has id "${cfg.default_agent}"${didYouMean(cfg.default_agent, ids)}`,
      });
    }
    if (cfg.sip?.default_agent && !ids.has(cfg.sip.default_agent)) {
      ctx.addIssue({
        code: 'custom',
        path: ['sip', 'default_agent'],
        message: `no agent has id "${cfg.sip.default_agent}"${didYouMean(cfg.sip.default_agent, ids)}`,
      });
    }
    const allTargets = new Set(cfg.agents.flatMap((a) => a.transfer.targets.map((t) => t.name)));
    for (const [num, route] of Object.entries(cfg.numbers)) {
      if (!/^\+[1-9]\d{6,14}$/.test(num)) {
        ctx.addIssue({
          code: 'custom',
          path: ['numbers', num],
          message: 'a routed number must be E.164, like +15551234567',
        });
      }
      const opts = route.ivr ? [...Object.values(route.ivr.options), route.ivr.default] : [];
      for (const o of opts) {
        if ('transfer' in o && !allTargets.has(o.transfer))
          ctx.addIssue({
            code: 'custom',
            path: ['numbers', num, 'ivr'],
            message: `transfer target "${o.transfer}" is not defined by any agent`,
          });
      }
      const refs = [
        route.agent,
        ...Object.values(route.ivr?.options ?? {}).map((o) => ('agent' in o ? o.agent : undefined)),
      ];
      if (route.ivr && 'agent' in route.ivr.default) refs.push(route.ivr.default.agent);
      for (const ref of refs) {
        if (ref && !ids.has(ref)) {
          ctx.addIssue({
            code: 'custom',
            path: ['numbers', num],
            message: `routes to unknown agent "${ref}"${didYouMean(ref, ids)}`,
          });
        }
      }
    }
  });

/** `; did you mean "support"?` for an agent id one typo away from a defined one, else nothing. */
function didYouMean(id: string, ids: ReadonlySet<string>): string {
  const near = closest(id, [...ids]);
  return near ? `; did you mean "${near}"?` : '';
}

export type ConfigFile = z.infer<typeof configFileSchema>;
export type AgentConfig = z.infer<typeof agentSchema>;
export type TransferTarget = z.infer<typeof transferTargetSchema>;
export type ContextWebhookConfig = z.infer<typeof contextWebhookSchema>;
export type IvrConfig = z.infer<typeof ivrSchema>;
export type BridgeSettings = z.infer<typeof bridgeSchema>;
