/**
 * The operator console in a real browser: Debian's Chromium, headless, driven by playwright-core,
 * against a real bridge process with the Twilio simulator placing calls. Every wait is on a DOM
 * condition with a generous bound (the machine may be loaded); nothing is timed.
 * CONSOLE_SCREENSHOTS=dir also saves the README's screenshots there.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeTestConfig, CALLER, SUPPORT_NUMBER } from '../helpers/bridge-stack.js';
import { startBridgeProcess, type BridgeProcess } from '../helpers/bridge-process.js';
import { testToken } from '../helpers/tokens.js';

const ADMIN = testToken('browser admin');
const NEW_NUMBER = '+15550003333';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WAIT = 45_000;
const SHOTS = process.env.CONSOLE_SCREENSHOTS;

const config = (numbers: Record<string, { agent: string }>) => ({ ...bridgeTestConfig(), numbers });

let b: BridgeProcess;
let browser: Browser;
let page: Page;

describe.skipIf(!existsSync(CHROMIUM))('the console in Chromium', () => {
  beforeAll(async () => {
    b = await startBridgeProcess({ config: config({ [SUPPORT_NUMBER]: { agent: 'support' } }), adminToken: ADMIN });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(WAIT);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await b?.close();
  }, 60_000);

  it('logs in with the admin token, and a call appears with its transcript growing', async () => {
    await page.goto(`${b.url}/console`);
    await page.waitForURL('**/console/login');
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#login-error', { hasText: 'Wrong token' }).waitFor();
    await page.getByLabel('Admin token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console$/);
    await page.locator('#conn', { hasText: 'live' }).waitFor();

    const call = b.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 120_000 });
    const row = page.locator(`tr[data-call-sid="${call.callSid}"]`);
    await row.waitFor();
    expect(await row.locator('td').nth(1).textContent()).toBe('support');
    expect(await row.locator('td').nth(2).textContent()).toBe('•••4321');
    await row.getByRole('button').click();
    await page.locator('#detail').waitFor();
    // The agent's greeting is the first line; the caller then speaks and the echo agent answers.
    await page.locator('#transcript li').first().waitFor();
    expect(await page.locator('#transcript li').first().textContent()).toContain('Hello from support.');
    call.say('I would like to check my order please');
    await page.waitForFunction(() => document.querySelectorAll('#transcript li').length >= 3, undefined, {
      timeout: WAIT,
    });
    await page.waitForFunction(() => document.querySelector('#detail-v2v')?.textContent !== '–', undefined, {
      timeout: WAIT,
    });
    call.sendDtmf('42'); // keys pressed outside a collect are shown on the timeline
    await page.locator('#timeline li', { hasText: 'dtmf: 2' }).waitFor();
    await page.waitForFunction(
      () => [...document.querySelectorAll('#calls meter')].some((m) => (m as HTMLMeterElement).value > 0),
      undefined,
      { timeout: WAIT },
    );
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'console-live-call.png') });

    // Hang it up from the page: the simulator sees the bridge end the call.
    await page.getByRole('button', { name: 'Hang up' }).click();
    const result = await call.done;
    expect(result.endedBy).toBe('rest-completed');
    await row.waitFor({ state: 'detached' });
    await page.locator('#detail-state', { hasText: 'ended' }).waitFor();
    // The pending "Hanging up…" does not stay beside the disabled buttons: it says how it ended.
    await page.locator('#action-status', { hasText: 'Call ended' }).waitFor();
    expect(await page.locator('#action-status').textContent()).not.toContain('Hanging up');
    await page.locator('#history tbody tr').first().waitFor();
  }, 180_000);

  it('a row updating live keeps its element: six human-speed clicks open the detail six times, and keyboard focus stays on it', async () => {
    const call = b.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 120_000 });
    const row = page.locator(`tr[data-call-sid="${call.callSid}"]`);
    await row.waitFor();
    const button = row.getByRole('button');
    // Levels and duration update the row several times a second while the caller and agent talk.
    call.say('I would like to hear about every plan you have and what each of them costs per month please');
    await page.waitForFunction(
      (sid) =>
        [...document.querySelectorAll(`tr[data-call-sid="${sid}"] meter`)].some(
          (m) => (m as HTMLMeterElement).value > 0,
        ),
      call.callSid,
      { timeout: WAIT },
    );
    let opens = 0;
    const onRequest = (r: { url(): string }) => {
      if (new URL(r.url()).pathname === '/console/api/calls') opens++;
    };
    page.on('request', onRequest);
    const box = (await button.boundingBox())!;
    for (let i = 0; i < 6; i++) {
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await new Promise((r) => setTimeout(r, 150)); // a human's press spans several row updates
      await page.mouse.up();
      await new Promise((r) => setTimeout(r, 300));
    }
    await page.waitForFunction(() => true); // let the last click's fetch start
    page.off('request', onRequest);
    expect(opens).toBe(6);

    // Keyboard: focus the row's button and let the row update for a while; the focus stays.
    const rowButton = await button.elementHandle();
    await button.focus();
    const samples: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 250));
      samples.push(await page.evaluate((el) => document.activeElement === el, rowButton));
    }
    expect(samples).toEqual([true, true, true, true, true, true]);
    expect(await page.evaluate((el) => el?.isConnected, rowButton)).toBe(true); // the same element
    await page.keyboard.press('Enter'); // reachable by keyboard: Enter opens the call too
    await page.locator('#detail-sid', { hasText: call.callSid.slice(-6) }).waitFor();

    call.hangup();
    await call.done;
    await row.waitFor({ state: 'detached' });
  }, 180_000);

  it('reloads a configuration that adds a number while a call is in progress, refuses an invalid one, and shows a SIGHUP reload', async () => {
    const first = b.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 120_000 });
    let firstEnded = false;
    void first.done.then(() => (firstEnded = true));
    await page.locator(`tr[data-call-sid="${first.callSid}"]`).waitFor();

    b.writeConfig(config({ [SUPPORT_NUMBER]: { agent: 'support' }, [NEW_NUMBER]: { agent: 'sales' } }));
    await page.getByRole('button', { name: 'Reload configuration' }).click();
    await page.locator('#reload-status', { hasText: /Configuration reloaded at .+: numbers added: •••3333/ }).waitFor();

    const second = b.sim.placeCall({ to: NEW_NUMBER, from: '+15559871234', maxDurationMs: 120_000 });
    const row2 = page.locator(`tr[data-call-sid="${second.callSid}"]`);
    await row2.waitFor();
    expect(await row2.locator('td').nth(1).textContent()).toBe('sales');
    await page.locator(`tr[data-call-sid="${first.callSid}"]`).waitFor(); // still listed
    expect(firstEnded).toBe(false);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'console-reload.png') });

    b.writeConfig({
      ...config({ [SUPPORT_NUMBER]: { agent: 'support' } }),
      agents: [{ id: 'support', persona: 'x', transfer: { timeout_s: 2 } }],
    });
    await page.getByRole('button', { name: 'Reload configuration' }).click();
    await page.locator('#reload-status', { hasText: 'Reload refused' }).waitFor();
    expect(await page.locator('#reload-status').textContent()).toContain('agents.0.transfer.timeout_s');
    expect(firstEnded).toBe(false);

    // A refusal that names a number and the file: the page shows neither in full.
    b.writeConfig(config({ [SUPPORT_NUMBER]: { agent: 'support' }, '+15550007777': { agent: 'nobody' } }));
    const refused = page.waitForResponse((r) => r.url().endsWith('/console/api/config/reload'));
    await page.getByRole('button', { name: 'Reload configuration' }).click();
    const answer = await (await refused).text();
    await page.locator('#reload-status', { hasText: 'unknown agent' }).waitFor();
    const shown = (await page.locator('#reload-status').textContent()) ?? '';
    for (const text of [shown, answer]) {
      expect(text).not.toContain('15550007777');
      expect(text).not.toContain(b.configPath);
    }
    expect(shown).toContain('•••7777');

    // A reload from elsewhere (SIGHUP) is announced on the page too.
    b.writeConfig(
      config({
        [SUPPORT_NUMBER]: { agent: 'support' },
        [NEW_NUMBER]: { agent: 'sales' },
        '+15550005555': { agent: 'sales' },
      }),
    );
    b.child.kill('SIGHUP');
    await page.locator('#reload-status', { hasText: /Configuration reloaded at .+: numbers added: •••5555/ }).waitFor();
    expect(firstEnded).toBe(false);

    first.hangup();
    second.hangup();
    await Promise.all([first.done, second.done]);
    await page.locator(`tr[data-call-sid="${first.callSid}"]`).waitFor({ state: 'detached' });
  }, 180_000);
});
