/**
 * `omni-phone-bridge new-tool NAME [--webhook]`: writes a tool as plain JavaScript — a module the
 * bridge imports, or a webhook receiver that checks the bridge's signature with the tool SDK — and
 * prints the configuration block to paste under the agent's `tools:`. It never overwrites a file
 * unless --force says so.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseOrExit, usageError } from './cli-args.js';
import { NEW_TOOL } from './cli-commands.js';

/** The names the engine accepts for a tool (and the schema's rule for `name`). */
const TOOL_NAME = /^[a-z][a-z0-9_]{0,63}$/;

export function moduleSource(name: string): string {
  return `// ${name}: a tool the bridge imports (plain JavaScript: production runs \`node dist/main.js\`).
/** @type {import('omni-phone-bridge/tool-sdk').ToolHandler} */
export default async function ${camel(name)}(args, context) {
  // context: { callSid, agentId, from, to, toolCallId, signal }; stop when signal aborts.
  context.signal.throwIfAborted();
  const query = String(args.query ?? '');
  // Whatever this returns (JSON-serialisable) is the tool's result the agent reads.
  return { query, answer: \`You asked about \${query}.\` };
}
`;
}

export function webhookSource(name: string, envVar: string): string {
  return `// ${name}: a webhook receiver for the bridge's signed tool calls (plain Node, no dependencies).
// Run it: ${envVar}=... PORT=8787 node ${name}.webhook.js
import { createServer } from 'node:http';
import { SIGNATURE_HEADER, verifyBridgeSignature } from 'omni-phone-bridge/tool-sdk';

const secret = process.env.${envVar};
if (!secret) throw new Error('${envVar} is not set: the signing secret shared with the bridge');

export const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const rawBody = Buffer.concat(chunks);
    // The signature covers the raw bytes: check it before parsing anything.
    const check = verifyBridgeSignature({ header: req.headers[SIGNATURE_HEADER.toLowerCase()], rawBody, secret });
    if (!check.ok) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: check.reason }));
      return;
    }
    const { arguments: args } = JSON.parse(rawBody.toString('utf8'));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ query: String(args?.query ?? ''), answer: 'An answer from the webhook.' }));
  });
});

if (import.meta.url === \`file://\${process.argv[1]}\`) server.listen(Number(process.env.PORT ?? 8787));
`;
}

export function configBlock(name: string, opts: { webhook: boolean; modulePath: string; envVar: string }): string {
  const executor = opts.webhook
    ? `executor: { kind: http, url: 'https://tools.example.com/${name}', signing_secret_env: ${opts.envVar} }`
    : `executor: { kind: module, module: ${opts.modulePath} }`;
  return `      - name: ${name}
        description: Say what this tool does and when the agent should call it.
        side_effect: read
        timeout_ms: 3000
        parameters:
          type: object
          properties:
            query: { type: string, description: 'What to look up' }
          required: [query]
          additionalProperties: false
        ${executor}
`;
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

export async function runNewTool(
  argv: readonly string[],
  io: { out: (s: string) => void; err: (s: string) => void; cwd: string } = {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    cwd: process.cwd(),
  },
): Promise<number> {
  const args = parseOrExit(NEW_TOOL, argv, io);
  if (args.exit !== undefined) return args.exit;
  const name = args.positionals[0];
  if (!name) return usageError(NEW_TOOL, 'NAME is required, e.g. new-tool look_up_order', io);
  if (!TOOL_NAME.test(name))
    return usageError(NEW_TOOL, `"${name.slice(0, 40)}" is not a tool name: lower case letters, digits and _`, io);
  const webhook = args.values.webhook === true;
  const dir = resolve(io.cwd, String(args.values.dir));
  const file = join(dir, webhook ? `${name}.webhook.js` : `${name}.js`);
  if (existsSync(file) && args.values.force !== true) {
    io.err(`omni-phone-bridge new-tool: ${file} exists; --force overwrites it\n`);
    return 1;
  }
  const envVar = `TOOL_SECRET_${name.toUpperCase()}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, webhook ? webhookSource(name, envVar) : moduleSource(name));
  const modulePath = `./${relative(io.cwd, file)}`;
  io.out(
    `wrote ${file}\n\nPaste under the agent's tools: in your BRIDGE_CONFIG file${
      webhook ? '' : " (module paths resolve from that file's folder)"
    }:\n\n${configBlock(name, { webhook, modulePath, envVar })}${
      webhook
        ? `\nSet ${envVar} to the same random secret on the bridge and the receiver (openssl rand -hex 32).\n`
        : ''
    }`,
  );
  return 0;
}
