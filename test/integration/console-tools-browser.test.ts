/**
 * The console's tools and agents page in Debian's Chromium against a real bridge process: with
 * PostgreSQL (DATABASE_URL) an admin creates a webhook tool from the form and sees its signing
 * secret once (no later response of the page carries it, a reload shows none), disables it (the
 * API then says disabled), binds it to an agent with a setting and unbinds it, and reads the
 * audit trail; a viewer sees the list without any control and a forged write with its session is
 * refused, as is an operator's. Without the database the page lists the file's tools and says the
 * configuration is file-based and read-only.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeTestConfig, SUPPORT_NUMBER } from '../helpers/bridge-stack.js';
import { startBridgeProcess, type BridgeProcess } from '../helpers/bridge-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { testToken } from '../helpers/tokens.js';
import { auditPage } from '../helpers/wcag.js';

const ADMIN = testToken('console tools admin');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WAIT = 45_000;
const TOOL = 'lookup_order';
const LAUNCH = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

let browser: Browser;

/** A fresh browser context signed in with `secret`, on the tools page once it has drawn. */
async function toolsPage(
  b: BridgeProcess,
  secret: string,
  label: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  await page.goto(`${b.url}/console`);
  await page.waitForURL('**/console/login');
  await page.getByLabel(label).fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/console$/);
  await page.getByRole('link', { name: 'Tools and agents' }).click();
  await page.waitForURL(/\/console\/tools$/);
  await page.locator('body[data-ready="true"]').waitFor();
  return { context, page };
}

/** A write as the page's own script would send it: the session's cookie and CSRF token. */
const sendFromPage = (page: Page, method: string, path: string, body: unknown) =>
  page.evaluate(
    async (o) => {
      const s = (await (await fetch('/console/api/session')).json()) as { csrf: string };
      const r = await fetch(o.path, {
        method: o.method,
        headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf },
        body: JSON.stringify(o.body),
      });
      return r.status;
    },
    { method, path, body },
  );

/** Contrast, names and reflow of the page as it is, at a desktop's and a phone's size (console-wcag.test.ts). */
async function wcag(page: Page, view: string): Promise<string[]> {
  const problems: string[] = [];
  for (const size of [
    { width: 1280, height: 900 },
    { width: 390, height: 844 },
  ]) {
    await page.setViewportSize(size);
    const a = await auditPage(page);
    for (const f of a.contrast) problems.push(`${view} ${size.width}: ${f.where} "${f.text}" ${f.ratio}:1`);
    for (const u of a.unnamed) problems.push(`${view} ${size.width}: no accessible name: ${u}`);
    if (size.width === 390 && a.scrollWidth > a.innerWidth) problems.push(`${view} phone: scrolls sideways`);
    for (const o of a.offscreen) problems.push(`${view} ${size.width}: past the window's edge: ${o}`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  return problems;
}

// Skipped only outside CI: under CI=true a missing Chromium is a failure, not a silent pass.
describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('the console tools page', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  describe('with the control plane (PostgreSQL)', () => {
    let db: TestDatabase;
    let b: BridgeProcess;
    const v1 = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${b.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${ADMIN}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: r.status, json: (await r.json()) as Record<string, unknown> };
    };
    const toolByName = async () =>
      ((await v1('GET', '/v1/tools')).json.items as { id: string; name: string; status: string }[]).find(
        (t) => t.name === TOOL,
      );

    beforeAll(async () => {
      db = await createTestDatabase();
      b = await startBridgeProcess({
        config: { ...bridgeTestConfig(), numbers: { [SUPPORT_NUMBER]: { agent: 'support' } } },
        adminToken: ADMIN,
        env: { DATABASE_URL: db.url, SECRETS_KEY: randomBytes(32).toString('base64') },
      });
      const agent = await v1('PUT', '/v1/agents/billing', {
        persona: 'You are the billing desk.',
        greeting: 'Billing, how can I help?',
      });
      expect(agent.status).toBe(201);
    }, 240_000);

    afterAll(async () => {
      await b?.close();
      await db?.drop();
    }, 60_000);

    it('an admin creates a webhook tool and sees its secret once; it is in no later response, nor after a reload', async () => {
      const { context, page } = await toolsPage(b, ADMIN, 'API key');
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: b.url });
      const bodies: { url: string; text: Promise<string> }[] = [];
      page.on('response', (r) => bodies.push({ url: r.url(), text: r.text().catch(() => '') }));
      try {
        await page.getByLabel('Name', { exact: true }).fill(TOOL);
        await page.getByLabel('Description').fill('Looks an order up by its number');
        await page.getByLabel('Webhook URL').fill('https://tools.example.com/orders');
        const created = page.waitForResponse((r) => r.url().endsWith('/console/api/v1/tools') && r.status() === 201);
        await page.getByRole('button', { name: 'Save tool' }).click();
        const creation = await created;
        await page.locator('#secret').waitFor();
        const secret = (await page.locator('#secret-value').textContent()) ?? '';
        expect(secret.length).toBeGreaterThanOrEqual(32);
        expect(((await creation.json()) as { signing_secret: string }).signing_secret).toBe(secret);
        await page.getByRole('button', { name: 'Copy secret' }).click();
        await page.locator('#secret-status', { hasText: 'copied' }).waitFor();
        expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
        const row = page.locator(`#tools tr[data-tool="${TOOL}"]`);
        await row.locator('td.tool-status', { hasText: 'active' }).waitFor();
        expect((await toolByName())?.status).toBe('active');

        const problems = await wcag(page, 'tools-admin-secret');
        await page.getByRole('button', { name: 'I have copied it' }).click();
        expect(await page.locator('#secret').isHidden()).toBe(true);
        expect(await page.content()).not.toContain(secret);

        await page.reload();
        await page.locator('body[data-ready="true"]').waitFor();
        await row.waitFor();
        expect(await page.locator('#secret').isHidden()).toBe(true);
        expect(await page.content()).not.toContain(secret);
        // the audit trail lists the creation, under the admin token's key
        await page.locator('#audit-rows td', { hasText: 'tool.create' }).first().waitFor();
        problems.push(...(await wcag(page, 'tools-admin')));
        expect(problems).toEqual([]);

        // every response the page received after the one that created the tool, scanned for the secret
        const i = bodies.findIndex((x) => x.url === creation.url() && x.url.endsWith('/console/api/v1/tools'));
        expect(i).toBeGreaterThanOrEqual(0);
        const later = await Promise.all(bodies.slice(i + 1).map(async (x) => ({ url: x.url, text: await x.text })));
        expect(later.length).toBeGreaterThan(5);
        expect(later.filter((x) => x.text.includes(secret)).map((x) => x.url)).toEqual([]);
        expect(b.output()).not.toContain(secret);
      } finally {
        await context.close();
      }
    });

    it('an admin disables the tool from the page and the API then reports it disabled; enabling brings it back; an edit keeps it', async () => {
      const { context, page } = await toolsPage(b, ADMIN, 'API key');
      try {
        const row = page.locator(`#tools tr[data-tool="${TOOL}"]`);
        await page.getByRole('button', { name: `Disable ${TOOL}` }).click();
        await row.locator('td.tool-status', { hasText: 'disabled' }).waitFor();
        expect((await toolByName())?.status).toBe('disabled');
        await page.getByRole('button', { name: `Enable ${TOOL}` }).click();
        await row.locator('td.tool-status', { hasText: 'active' }).waitFor();
        expect((await toolByName())?.status).toBe('active');
        await page.getByRole('button', { name: `Disable ${TOOL}` }).click();
        await row.locator('td.tool-status', { hasText: 'disabled' }).waitFor();
        expect((await toolByName())?.status).toBe('disabled');

        // an edit from the same form: the tool is updated in place (200), and no secret is shown
        await page.getByRole('button', { name: `Edit ${TOOL}` }).click();
        expect(await page.getByLabel('Webhook URL').inputValue()).toBe('https://tools.example.com/orders');
        await page.getByLabel('Description').fill('Looks an order up, edited');
        const saved = page.waitForResponse((r) => r.url().endsWith('/console/api/v1/tools'));
        await page.getByRole('button', { name: 'Save tool' }).click();
        const answer = await saved;
        expect(answer.status()).toBe(200);
        expect(((await answer.json()) as Record<string, unknown>).signing_secret).toBeUndefined();
        await page.locator('#edit-status', { hasText: `${TOOL} saved` }).waitFor();
        expect(await page.locator('#secret').isHidden()).toBe(true);
        const edited = (await v1('GET', `/v1/tools/${(await toolByName())!.id}`)).json;
        expect(edited).toMatchObject({ description: 'Looks an order up, edited', status: 'disabled' });
      } finally {
        await context.close();
      }
    });

    it('an admin binds the tool to an agent with a setting, then unbinds it', async () => {
      const { context, page } = await toolsPage(b, ADMIN, 'API key');
      try {
        await page.getByLabel('Agent', { exact: true }).selectOption('billing');
        await page.getByLabel('Tool', { exact: true }).selectOption(TOOL);
        await page.getByLabel('Settings (name=value, one a line)').fill('region=eu\nmax_results=3');
        await page.getByRole('button', { name: 'Bind to agent' }).click();
        await page.locator(`#bindings tr[data-tool="${TOOL}"]`).waitFor();
        const bound = (await v1('GET', '/v1/agents/billing/tools')).json.items as {
          tool: string;
          settings: Record<string, unknown>;
        }[];
        expect(bound).toMatchObject([{ tool: TOOL, settings: { region: 'eu', max_results: 3 } }]);
        await page.locator(`#tools tr[data-tool="${TOOL}"] td`, { hasText: 'billing' }).waitFor();

        await page.getByRole('button', { name: `Unbind ${TOOL} from billing` }).click();
        await page.locator(`#bindings tr[data-tool="${TOOL}"]`).waitFor({ state: 'detached' });
        expect((await v1('GET', '/v1/agents/billing/tools')).json.items).toEqual([]);
      } finally {
        await context.close();
      }
    });

    it('a viewer sees the list without controls; a forged create or disable with its session is refused, as an operator is', async () => {
      const keys: Record<string, string> = {};
      for (const role of ['viewer', 'operator']) {
        const k = await v1('POST', '/v1/keys', { name: `tools-${role}`, role });
        expect(k.status).toBe(201);
        keys[role] = k.json.secret as string;
      }
      const before = await toolByName();
      for (const role of ['viewer', 'operator']) {
        const { context, page } = await toolsPage(b, keys[role]!, 'API key');
        try {
          await page.locator(`#tools tr[data-tool="${TOOL}"]`).waitFor();
          await page.locator('#mode', { hasText: 'read-only' }).waitFor();
          for (const name of ['Save tool', `Disable ${TOOL}`, `Enable ${TOOL}`, `Edit ${TOOL}`, 'Bind to agent'])
            expect(await page.getByRole('button', { name, exact: true }).count(), `${role}: ${name}`).toBe(0);
          if (role === 'viewer') expect(await wcag(page, 'tools-viewer')).toEqual([]);

          const forged = {
            name: 'forged_tool',
            description: 'should not exist',
            side_effect: 'read',
            parameters: { type: 'object', properties: {} },
            webhook: { url: 'https://tools.example.com/forged' },
          };
          expect(await sendFromPage(page, 'POST', '/console/api/v1/tools', forged), role).toBe(403);
          expect(
            await sendFromPage(page, 'PATCH', `/console/api/v1/tools/${before!.id}`, { status: 'active' }),
            role,
          ).toBe(403);
          expect(await sendFromPage(page, 'PUT', '/console/api/v1/agents/billing/tools', [{ tool: TOOL }]), role).toBe(
            403,
          );
        } finally {
          await context.close();
        }
      }
      expect((await v1('GET', '/v1/tools')).json.items).toHaveLength(1);
      expect((await toolByName())?.status).toBe(before!.status);
      expect((await v1('GET', '/v1/agents/billing/tools')).json.items).toEqual([]);
    });
  });

  describe('without the database', () => {
    let b: BridgeProcess;
    beforeAll(async () => {
      const config = bridgeTestConfig({
        support: {
          tools: [
            {
              name: 'check_order',
              description: 'Checks an order',
              parameters: { type: 'object', properties: {} },
              side_effect: 'read',
              executor: {
                kind: 'http',
                url: 'https://tools.example.com/check',
                signing_secret_env: 'TOOL_SECRET_CHECK_ORDER',
              },
            },
          ],
        },
      });
      b = await startBridgeProcess({
        config,
        adminToken: ADMIN,
        env: { TOOL_SECRET_CHECK_ORDER: testToken('file tool signing') },
      });
    }, 240_000);
    afterAll(async () => {
      await b?.close();
    }, 60_000);

    it("lists the file's tools and says the configuration is file-based and read-only, with no control", async () => {
      const { context, page } = await toolsPage(b, ADMIN, 'Admin token');
      try {
        const row = page.locator('#tools tr[data-tool="check_order"]');
        await row.waitFor();
        expect(await row.locator('td').allTextContents()).toEqual([
          'check_order',
          'webhook',
          'active',
          '0',
          '–',
          'support',
          '–',
        ]);
        await page.locator('#mode', { hasText: 'file-based' }).waitFor();
        expect(await page.locator('#mode').textContent()).toContain('read-only');
        expect(await page.locator('#usage-source').textContent()).toContain('call records');
        for (const id of ['#edit', '#bind', '#audit']) expect(await page.locator(id).isHidden(), id).toBe(true);
        expect(await page.getByRole('button').count()).toBe(0);
        // no control plane, no /v1 under the console either
        expect(await sendFromPage(page, 'POST', '/console/api/v1/tools', {})).toBe(404);
        expect(await page.content()).not.toContain(testToken('file tool signing'));
      } finally {
        await context.close();
      }
    });
  });
});
