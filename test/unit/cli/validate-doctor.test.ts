/**
 * `validate` lists every problem of a configuration and its environment at once (exit 1), or says
 * OK (exit 0); `doctor` says what a deployment lacks. Both run in-process against loopback only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runChecks } from '../../../src/doctor.js';
import { runValidate } from '../../../src/validate.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const dirs: string[] = [];
const servers: { close(cb: () => void): void }[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'opb-validate-'));
  dirs.push(dir);
  const f = join(dir, 'agents.yaml');
  writeFileSync(f, text);
  return f;
}

async function validate(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runValidate(args, { out: (s) => out.push(s), err: (s) => err.push(s), env });
  return { code, out: out.join(''), err: err.join('') };
}

/** A port on 127.0.0.1 that nothing listens on (taken, then freed). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const AGENT = 'default_agent: a\nagents:\n  - id: a\n    persona: You help.\n';

describe('validate [FILE]', () => {
  it('the shipped configuration is valid offline: exit 0 and an OK line', async () => {
    const r = await validate(['--offline', join(ROOT, 'config/agents.yaml')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/agents\.yaml: OK \(2 agents, 2 tools; network checks skipped \(--offline\)\)/);
  });

  it('every problem at once: environment, file, tool module, secret, each named, exit 1', async () => {
    const f = file(
      `${AGENT}    greting: Hi\n    tools:\n      - name: look_up\n        description: Looks up.\n        side_effect: read\n` +
        `        parameters: { type: object, properties: {} }\n        executor: { kind: module, module: ./missing.js }\n` +
        `      - name: hook\n        description: Posts.\n        side_effect: read\n        parameters: { type: object, properties: {} }\n` +
        `        executor: { kind: http, url: 'https://10.0.0.1/x', signing_secret_env: TOOL_SECRET_HOOK }\n`,
    );
    const r = await validate(['--offline', f], { DRAIN_TIMEOUT_MS: 'soon', OMNI_RATE: '44100' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/OMNI_RATE must be one of/);
    expect(r.err).toMatch(/DRAIN_TIMEOUT_MS must be a whole number/);
    expect(r.err).toMatch(/agents\.0\.greting: unknown key; did you mean greeting\? \(line 5\)/);
    // the file with the typo removed still has its tool problems: checked once the schema passes
    const g = file(
      `${AGENT}    tools:\n      - name: look_up\n        description: Looks up.\n        side_effect: read\n` +
        `        parameters: { type: object, properties: {} }\n        executor: { kind: module, module: ./missing.js }\n` +
        `      - name: hook\n        description: Posts.\n        side_effect: read\n        parameters: { type: object, properties: {} }\n` +
        `        executor: { kind: http, url: 'https://hooks.example.com/x', signing_secret_env: TOOL_SECRET_HOOK }\n` +
        `      - name: inside\n        description: Posts.\n        side_effect: read\n        parameters: { type: object, properties: {} }\n` +
        `        executor: { kind: http, url: 'https://10.0.0.1/x', signing_secret_env: TOOL_SECRET_HOOK }\n`,
    );
    const t = await validate(['--offline', g], { DRAIN_TIMEOUT_MS: '0' });
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/tool "look_up": cannot import module \.\/missing\.js/);
    expect(t.err).toMatch(/tool "inside": webhook URL refused: address is private/);
    expect(t.err).toMatch(/TOOL_SECRET_HOOK \(signing secret\) is not set/);
  });

  it('without --offline an MCP server that does not answer is a problem', async () => {
    const port = await closedPort();
    const f = file(
      `${AGENT}    mcp_servers:\n      - { name: crm, url: 'http://127.0.0.1:${port}/mcp', side_effect: read }\nbridge:\n  tool_allow_hosts: ['127.0.0.1']\n`,
    );
    const r = await validate([f]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(
      new RegExp(`MCP server crm at http://127\\.0\\.0\\.1:${port} does not answer \\(ECONNREFUSED\\)`),
    );
    expect((await validate(['--offline', f])).code).toBe(0);
  });

  it('takes one FILE at most and suggests the option meant', async () => {
    expect((await validate(['a.yaml', 'b.yaml'])).err).toMatch(/too many arguments/);
    expect((await validate(['--ofline'])).err).toMatch(/did you mean --offline\?/);
  });
});

describe('doctor', () => {
  async function healthz(): Promise<string> {
    const s: Server = createServer((_req, res) => res.writeHead(200).end('ok'));
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
  }

  it('a development environment lacks a public https URL, the Omni key and the auth token; a closed DATABASE_URL is named', async () => {
    const pub = await healthz();
    const db = await closedPort();
    const { checks, paste } = await runChecks({
      env: { PUBLIC_URL: pub, DATABASE_URL: `postgres://u@127.0.0.1:${db}/x` },
      offline: false,
      timeoutMs: 3000,
    });
    const lacks = checks.filter((c) => c.status === 'lacks').map((c) => c.what);
    expect(lacks.join('\n')).toMatch(/PUBLIC_URL .* is this machine only/);
    expect(lacks.join('\n')).toMatch(/PYAI_API_KEY not set/);
    expect(lacks.join('\n')).toMatch(/TWILIO_AUTH_TOKEN not set/);
    expect(lacks.join('\n')).toMatch(new RegExp(`DATABASE_URL 127\\.0\\.0\\.1:${db} does not answer`));
    const ok = checks.filter((c) => c.status === 'ok').map((c) => c.what);
    expect(ok.join('\n')).toMatch(/\/healthz answers 200/);
    expect(ok.join('\n')).toMatch(/clock within 5 s/);
    expect(paste?.join('\n')).toContain(`${pub}/twilio/voice`);
  });

  it('signature checks off is something lacking, whatever else is set', async () => {
    const { checks } = await runChecks({ env: { TWILIO_SIGNATURE_VALIDATION: 'off' }, offline: true });
    expect(checks.some((c) => c.status === 'lacks' && /TWILIO_SIGNATURE_VALIDATION=off/.test(c.what))).toBe(true);
  });

  it('a clock far from the server is named with the fix', async () => {
    const pub = await healthz();
    const { checks } = await runChecks({
      env: { PUBLIC_URL: pub },
      offline: false,
      now: () => Date.now() + 60_000,
    });
    expect(checks.find((c) => /clock/.test(c.what))).toMatchObject({
      status: 'lacks',
      what: expect.stringMatching(/NTP/),
    });
  });
});
