/**
 * Issue 30: `config import` and `config export` against the real PostgreSQL. Export is
 * deterministic and secret-free; importing it back writes nothing; an import makes the database
 * equal to the document, keeping a stored secret the document omits; an invalid document is
 * refused whole.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/loader.js';
import { exportConfig, importConfig, ImportInvalid, parseImport } from '../../../src/control-plane/config-sync.js';
import { openControlPlane, type ControlPlane } from '../../../src/control-plane/control-plane.js';
import { createLogger } from '../../../src/observability/logger.js';
import { BRIDGE_CLI } from '../../helpers/process.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const SECRETS_KEY = randomBytes(32).toString('base64');
const AUTH_SECRET = `imp-${randomBytes(10).toString('hex')}`;
const none = new Set<string>();
let db: TestDatabase;
let cp: ControlPlane;

const DOC = `
default_agent: support
bridge:
  max_concurrent_calls: 5
agents:
  - id: support
    persona: You help callers.
    bindings:
      - tool: order_lookup
        enabled: false
  - id: sales
    persona: You sell.
    greeting: Sales here.
numbers:
  "+15550104400": { agent: sales }
tools:
  - name: order_lookup
    description: Looks up an order
    parameters: { type: object }
    side_effect: read
    webhook: { url: "https://tools.example.com/orders", auth_header: X-Api-Key, auth_secret: ${AUTH_SECRET} }
  - name: book
    description: Books
    parameters: { type: object }
    side_effect: action
    module: { module: ./tools/book.js }
`;

beforeAll(async () => {
  db = await createTestDatabase();
  cp = await openControlPlane(loadEnv({ DATABASE_URL: db.url, SECRETS_KEY }), {
    logger: createLogger({ level: 'silent' }),
  });
});
afterAll(async () => {
  await cp?.close();
  await db?.drop();
});

describe('config import and export', () => {
  it('imports a document, exports it deterministically without any secret, and re-importing the export writes nothing', async () => {
    const parsed = parseImport(DOC, none);
    expect(parsed.ignoredBridge).toBe(true);
    const first = await importConfig(cp, parsed);
    expect(first.changes).toBeGreaterThan(0);
    const out = await exportConfig(cp);
    expect(await exportConfig(cp)).toBe(out);
    expect(out).not.toContain(AUTH_SECRET);
    expect(out).not.toMatch(/created_at|updated_at|tool_id|whsec_/);
    const doc = parseYaml(out) as {
      default_agent: string;
      agents: { id: string; bindings: unknown[] }[];
      numbers: Record<string, unknown>;
      tools: { name: string; webhook?: Record<string, unknown> }[];
    };
    expect(doc.default_agent).toBe('support');
    expect(doc.agents.map((a) => a.id)).toEqual(['sales', 'support']);
    expect(doc.agents[1]!.bindings).toEqual([{ tool: 'order_lookup', enabled: false, settings: {} }]);
    expect(doc.numbers).toEqual({ '+15550104400': { agent: 'sales' } });
    expect(doc.tools.map((t) => t.name)).toEqual(['book', 'order_lookup']);
    expect(doc.tools[1]!.webhook).toMatchObject({ has_auth_secret: true, auth_header: 'X-Api-Key' });
    const sealed = (await cp.pool.query("SELECT auth_secret, updated_at FROM tools WHERE name = 'order_lookup'"))
      .rows[0];
    const again = await importConfig(cp, parseImport(out, none));
    expect(again.changes).toBe(0);
    expect(
      (await cp.pool.query("SELECT auth_secret, updated_at FROM tools WHERE name = 'order_lookup'")).rows[0],
    ).toEqual(sealed);
    expect(await exportConfig(cp)).toBe(out);
  });

  it('makes the database equal to the document: what it no longer has is removed', async () => {
    const smaller = `
default_agent: support
agents:
  - id: support
    persona: You help callers.
tools:
  - name: book
    description: Books
    parameters: { type: object }
    side_effect: action
    module: { module: ./tools/book.js }
`;
    const r = await importConfig(cp, parseImport(smaller, none));
    expect(r.changes).toBeGreaterThan(0);
    const doc = parseYaml(await exportConfig(cp)) as {
      agents: { id: string; bindings: unknown[] }[];
      numbers: object;
      tools: { name: string }[];
    };
    expect(doc.agents.map((a) => a.id)).toEqual(['support']);
    expect(doc.agents[0]!.bindings).toEqual([]);
    expect(doc.numbers).toEqual({});
    expect(doc.tools.map((t) => t.name)).toEqual(['book']);
  });

  it('refuses an invalid document whole, with paths, writing nothing', async () => {
    const before = await exportConfig(cp);
    const bad = `
default_agent: nobody
agents:
  - id: support
    persona: You help.
    bindings: [{ tool: missing }]
numbers:
  "+15550104401": { agent: suport }
tools:
  - name: hook
    description: x
    parameters: { type: object }
    side_effect: read
    webhook: { url: "https://10.0.0.1/x" }
`;
    let err: unknown;
    try {
      parseImport(bad, none);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImportInvalid);
    const issues = (err as ImportInvalid).issues.join('\n');
    expect(issues).toContain('default_agent: no agent has id "nobody"');
    expect(issues).toContain('did you mean "support"?');
    expect(issues).toContain('(private)');
    expect(issues).toContain('agents.support.bindings.0.tool: no tool of the document is named "missing"');
    expect(issues).not.toContain('+15550104401');
    expect(await exportConfig(cp)).toBe(before);
  });

  it('runs as `omni-phone-bridge config import FILE` and `config export` (stdout)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opb-config-'));
    const file = join(dir, 'fleet.yaml');
    writeFileSync(file, DOC);
    const env = { PATH: process.env.PATH ?? '', DATABASE_URL: db.url, SECRETS_KEY, LOG_LEVEL: 'warn' };
    const imp = spawnSync(process.execPath, [...BRIDGE_CLI, 'config', 'import', file], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(imp.status).toBe(0);
    expect(imp.stderr).toContain('the bridge: section is ignored');
    expect(imp.stderr).toMatch(/config import: \d+ change\(s\) written/);
    const exp = spawnSync(process.execPath, [...BRIDGE_CLI, 'config', 'export'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(exp.status).toBe(0);
    expect((parseYaml(exp.stdout) as { agents: unknown[] }).agents).toHaveLength(2);
    expect(exp.stdout).not.toContain(AUTH_SECRET);
    const again = spawnSync(process.execPath, [...BRIDGE_CLI, 'config', 'import', file], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(again.stderr).toContain('nothing differs: nothing written');
    const usage = spawnSync(process.execPath, [...BRIDGE_CLI, 'config', 'import'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(usage.status).toBe(2);
  }, 60_000);
});
