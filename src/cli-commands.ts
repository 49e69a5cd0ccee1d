/**
 * The commands' options and environment, declared once: the parser, the validation and every
 * help text come from here (cli-args.ts). Plain data, so the top-level help loads nothing else.
 */
import type { CommandSpec } from './cli-args.js';

/** The variables of every long-running process (serve, engine): its traces and its logs. */
const TRACES_AND_LOGS: readonly (readonly [string, string])[] = [
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'call traces over OTLP/HTTP to this collector (+ /v1/traces); default: off'],
  ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'the full traces URL instead (wins over the one above)'],
  ['OTEL_EXPORTER_OTLP_HEADERS', 'key=value,… headers of each export (a collector token)'],
  ['OTEL_SERVICE_NAME', "the traces' service.name (omni-phone-bridge)"],
  ['OTEL_BSP_SCHEDULE_DELAY', 'how often finished spans are sent, in ms (5000)'],
  ['OTEL_EXPORTER_OTLP_TIMEOUT', 'the bound on one export, in ms (10000); a call never waits for it'],
  ['LOG_LEVEL', 'fatal, error, warn, info (default), debug, trace or silent'],
  ['LOG_FORMAT', 'json or pretty (default: pretty on a terminal, json otherwise)'],
];

export const SERVE: CommandSpec = {
  name: 'serve',
  summary: 'run the bridge: Twilio webhooks and Media Streams in, one Omni session per call out',
  options: {},
  env: [
    ['PORT / HOST', 'where the server listens (8080 / 0.0.0.0)'],
    ['PUBLIC_URL', 'the public origin Twilio uses (signatures, stream URL); http://localhost:$PORT'],
    ['BRIDGE_CONFIG', 'the agents and routing file (config/agents.yaml)'],
    ['PYAI_API_KEY', 'Omni key; without it and PYAI_BASE_URL, the built-in offline engine runs'],
    ['PYAI_BASE_URL', 'Omni endpoint (wss://api.pyai.com); must accept a connection at start-up'],
    ['PYAI_KEY_HOSTS', 'more host[:port], comma-separated, that receive the Omni key over wss://'],
    ['OMNI_RATE', 'PCM16 rate sent to the engine: 24000, 16000 or 8000 (24000)'],
    ['TWILIO_ACCOUNT_SID', 'REST call control (transfers, hang-ups, DTMF by <Play>)'],
    ['TWILIO_AUTH_TOKEN', 'signature checks and REST; without it every Twilio request is refused'],
    ['TWILIO_API_BASE', 'send REST calls elsewhere (the simulator), e.g. http://127.0.0.1:4010'],
    ['TWILIO_SIGNATURE_VALIDATION', 'on (default) or off (development only, logged loudly)'],
    ['STREAM_TOKEN_SECRET', 'key of the per-call stream tokens (default: derived from the auth token)'],
    ['ADMIN_TOKEN', 'enables the admin API (/admin/calls) with this bearer token'],
    ['METRICS_TOKEN', 'bearer token for GET /metrics and /readyz details (ADMIN_TOKEN works too)'],
    ['CALL_RECORDS_FILE', 'append one JSON call record per line here (default: the log)'],
    ['DRAIN_TIMEOUT_MS', 'on SIGTERM, how long active calls may go on, in ms (30000; 0: no wait)'],
    ['REDIS_URL', 'a fleet: replicas share calls, limits and tokens through this Redis (default: one replica)'],
    ['REDIS_KEY_PREFIX', 'prefix of every key and channel of this fleet in Redis (opb:)'],
    ['REPLICA_ID', "this replica's name in the fleet (default: host-pid-random)"],
    ['TRUST_PROXY_HOPS', 'proxies whose X-Forwarded-For is trusted (0)'],
    ['DATABASE_URL', 'the control plane on PostgreSQL: /v1 API for keys, tools, audit (default: off)'],
    ['SECRETS_KEY', 'base64 of 32 random bytes: encrypts the secrets stored in the database'],
    ['SECRETS_KEY_PREVIOUS', 'the key being replaced: stored secrets sealed under it still open'],
    ['SIP_PORT', 'SIP trunks: listen for SIP on this UDP and TCP port (default: off)'],
    ['SIP_HOST', 'address the SIP listener binds (default: HOST)'],
    ['SIP_PUBLIC_ADDRESS', 'address written into Contact, Via and SDP c= (default: the bound address)'],
    ['RTP_PORT_MIN', 'lowest RTP port for SIP calls (20000)'],
    ['RTP_PORT_MAX', 'highest RTP port for SIP calls (20999)'],
    ...TRACES_AND_LOGS,
  ],
  notes: 'Runs until SIGTERM or SIGINT, then drains calls. Any start-up failure exits with code 1 and says why.',
};

export const ENGINE: CommandSpec = {
  name: 'engine',
  summary: 'run the offline Omni engine on its own; point a bridge at it with PYAI_BASE_URL=ws://HOST:PORT',
  options: {
    port: { type: 'string', default: '8090', value: 'PORT', help: 'port to listen on (0: any)' },
    host: { type: 'string', default: '127.0.0.1', value: 'HOST', help: 'address to listen on' },
    scenario: { type: 'string', value: 'FILE', help: 'a scripted conversation (YAML), e.g. config/demo-scenario.yaml' },
    mode: {
      type: 'string',
      value: 'MODE',
      choices: ['scripted', 'echo-agent', 'loopback'],
      help: 'how the engine answers (scripted with --scenario, echo-agent otherwise)',
    },
    'output-rate': { type: 'string', value: 'HZ', help: 'rate of the audio it sends (default: the session rate)' },
    'connect-delay-ms': { type: 'string', value: 'MS', help: 'delay before each session says hello' },
    'api-key': { type: 'string', value: 'KEY', help: 'require this key (as Omni does); default: any' },
    pacing: {
      type: 'string',
      value: 'PROFILE',
      help: 'how replies go on the wire: realtime (default), chunks:MS, burst, jitter:MS:J, each with optional +odd and +pause:AT:MS (src/sim/engine/pacing.ts)',
    },
    dialect: {
      type: 'string',
      value: 'NAME',
      choices: ['standard', 'reference'],
      help: "standard, or reference: PyAI's reference server's habits (config_ack, turn events, rate-less audio_out)",
    },
  },
  env: [...TRACES_AND_LOGS],
  notes: 'Runs until SIGTERM or SIGINT.',
};

export const CALL: CommandSpec = {
  name: 'call',
  summary: 'place one simulated Twilio call against a running bridge and print its timeline',
  options: {
    bridge: { type: 'string', default: 'http://127.0.0.1:8080', value: 'URL', help: 'where the bridge listens' },
    'public-url': {
      type: 'string',
      value: 'URL',
      help: "the bridge's PUBLIC_URL, used for signatures (default: PUBLIC_URL or --bridge)",
    },
    to: { type: 'string', default: '+15550001111', value: 'NUMBER', help: 'the dialed number' },
    from: { type: 'string', default: '+15557654321', value: 'NUMBER', help: 'the caller' },
    say: { type: 'string', multiple: true, value: 'TEXT', help: 'say this after the agent goes quiet (in order)' },
    wav: { type: 'string', value: 'FILE', help: 'then play this WAV file' },
    dtmf: { type: 'string', value: 'DIGITS', help: 'then press these digits' },
    'dtmf-after-silence': {
      type: 'string',
      default: '2000',
      value: 'MS',
      help: 'press them once the agent has been quiet this long: a question waiting for its answer, not a pause inside a turn',
    },
    'hangup-after': { type: 'string', value: 'MS', help: 'hang up after this long' },
    'max-duration': { type: 'string', default: '120000', value: 'MS', help: 'safety bound on the call' },
    record: {
      type: 'string',
      value: 'FILE',
      help: 'write what the caller heard as a WAV file (its folder is created), e.g. recordings/call.wav',
    },
    json: { type: 'boolean', default: false, help: 'print the result as JSON instead of the live timeline' },
    'rest-port': { type: 'string', default: '4010', value: 'PORT', help: 'port of the fake Twilio REST API (0: any)' },
    human: {
      type: 'string',
      default: 'answer',
      value: 'OUTCOME',
      choices: ['answer', 'busy', 'no-answer', 'failed'],
      help: 'what a <Dial>ed human does',
    },
    'talk-ms': { type: 'string', default: '2000', value: 'MS', help: 'how long an answering human talks' },
    'account-sid': { type: 'string', value: 'SID', help: 'default TWILIO_ACCOUNT_SID or AC000…' },
  },
  env: [
    ['TWILIO_AUTH_TOKEN', "required: the bridge's auth token, to sign requests"],
    ['PUBLIC_URL', "the bridge's PUBLIC_URL (or --public-url)"],
    ['TWILIO_ACCOUNT_SID', 'the account of the simulated call (or --account-sid)'],
    [
      'ADMIN_TOKEN',
      "the bridge's: shows the agent's words, tool calls (and with call_record_transcript their arguments and results) and verbs",
    ],
  ],
  notes: 'For call control, start the bridge with TWILIO_API_BASE pointing at the fake REST API (--rest-port).',
};

export const DEMO: CommandSpec = {
  name: 'demo',
  summary: 'the whole product offline in one go: bridge, offline engine and a simulated call',
  options: {
    json: {
      type: 'boolean',
      default: false,
      help: 'print one JSON summary (with the timeline) instead of the live lines',
    },
    out: {
      type: 'string',
      value: 'FILE',
      help: 'where to write what the caller heard (default recordings/demo-call.wav)',
    },
    human: {
      type: 'string',
      default: 'answer',
      value: 'OUTCOME',
      choices: ['answer', 'busy', 'no-answer', 'failed'],
      help: 'what the human the call is transferred to does',
    },
    sip: {
      type: 'boolean',
      default: false,
      help: "place the call over SIP from Debian's baresip (installed separately) instead of the Twilio simulator",
    },
  },
  notes: 'Exit code 0 when neither side saw a protocol violation, 1 otherwise.',
};

export const CONFIG: CommandSpec = {
  name: 'config',
  summary: 'config export [FILE] | config import FILE: the control plane database as one YAML document',
  options: {},
  env: [
    ['DATABASE_URL', 'the control plane database (required)'],
    ['SECRETS_KEY', 'the key of its stored secrets (SECRETS_KEY_PREVIOUS while rotating)'],
    ['BRIDGE_CONFIG', 'its bridge.tool_allow_hosts apply to imported webhook URLs'],
  ],
  notes:
    'export writes the agents, numbers, tools and bindings (stdout without FILE), sorted and without any secret (has_auth_secret: true in its place). import makes the database equal to FILE, keeps stored secrets FILE omits, writes nothing when nothing differs, and ignores bridge:.',
};

export const SECRETS: CommandSpec = {
  name: 'secrets',
  summary: 'secrets rotate: seal the stored secrets again under SECRETS_KEY',
  options: {},
  env: [
    ['DATABASE_URL', 'the control plane database (required)'],
    ['SECRETS_KEY', 'the new key (required)'],
    ['SECRETS_KEY_PREVIOUS', 'the key the values are sealed under now'],
  ],
  notes:
    'Set SECRETS_KEY to a new key and SECRETS_KEY_PREVIOUS to the old one on every replica (they start and read both), run `secrets rotate` once, then unset SECRETS_KEY_PREVIOUS.',
};

export const VALIDATE: CommandSpec = {
  name: 'validate',
  summary: 'check the configuration and the environment as start-up would, and list every problem at once',
  positionals: { usage: '[FILE]', max: 1 },
  options: {
    offline: {
      type: 'boolean',
      default: false,
      help: 'skip the checks that reach the network (engines, MCP servers, DNS)',
    },
  },
  env: [['BRIDGE_CONFIG', 'the file checked when FILE is not given (config/agents.yaml)']],
  notes:
    'Reads the same environment as serve (see serve --help). Exit code 0 when nothing is wrong, 1 with the list of problems on stderr.',
};

export const DOCTOR: CommandSpec = {
  name: 'doctor',
  summary:
    'say what a deployment still lacks: a reachable PUBLIC_URL over TLS, webhook URLs, signatures, stores, clock',
  options: {
    offline: { type: 'boolean', default: false, help: 'skip the checks that reach the network' },
  },
  notes:
    'Reads the same environment as serve. Prints one line per check (ok, lacks, skip) and the Twilio webhook URLs to paste; exit code 0 when nothing lacks, 1 otherwise.',
};

export const NEW_TOOL: CommandSpec = {
  name: 'new-tool',
  summary:
    'write a tool module (or, with --webhook, a webhook receiver with its signature check) and the configuration block to paste',
  positionals: { usage: 'NAME', max: 1 },
  options: {
    webhook: { type: 'boolean', default: false, help: 'a webhook receiver (a small HTTP server) instead of a module' },
    dir: { type: 'string', default: 'tools', value: 'DIR', help: 'where to write the file' },
    force: { type: 'boolean', default: false, help: 'overwrite an existing file' },
  },
  notes: 'NAME is the tool name the agent calls: lower case letters, digits and _, e.g. look_up_order.',
};

export const COMMANDS: readonly CommandSpec[] = [
  SERVE,
  ENGINE,
  CALL,
  DEMO,
  VALIDATE,
  DOCTOR,
  NEW_TOOL,
  CONFIG,
  SECRETS,
];
