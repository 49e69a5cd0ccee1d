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

// Transcripts (and tools' arguments and results) are recorded: the past-call review shows them.
const config = (numbers: Record<string, { agent: string }>) => ({
  ...bridgeTestConfig({ bridge: { call_record_transcript: true } }),
  numbers,
});
/** The page's time zone (December: UTC-5), so that the review's dates show an offset and a zone. */
const TZ = 'America/New_York';

/** Every body the browser received from the console (not the event stream, scanned in console-security). */
const received: { url: string; text: string }[] = [];

function watchResponses(p: Page): void {
  p.on('response', (r) => {
    const u = new URL(r.url());
    if (!u.pathname.startsWith('/console') || u.pathname === '/console/api/events') return;
    void r.text().then(
      (text) => received.push({ url: u.pathname, text }),
      () => undefined,
    );
  });
}

/** Accessible names the page gives its controls: every one must have one. */
const unlabelled = (p: Page) =>
  p.evaluate(() =>
    [...document.querySelectorAll('button, input, select, textarea, meter')]
      .filter((e) => {
        const name =
          e.getAttribute('aria-label') ||
          (e.getAttribute('aria-labelledby') ?? '')
            .split(' ')
            .map((id) => document.getElementById(id)?.textContent ?? '')
            .join('') ||
          [...((e as HTMLInputElement).labels ?? [])].map((l) => l.textContent).join('') ||
          (e.tagName === 'BUTTON' ? e.textContent : '');
        return !name?.trim();
      })
      .map((e) => e.outerHTML.slice(0, 120)),
  );

let b: BridgeProcess;
let browser: Browser;
let page: Page;

// Skipped only outside CI: under CI=true a missing Chromium is a failure, not a silent pass.
describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('the console in Chromium', () => {
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
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: TZ });
    page.setDefaultTimeout(WAIT);
    watchResponses(page);
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

    // Hang it up from the page, after a confirmation: cancelled first, the call goes on.
    const restBefore = b.sim.restRequests.length;
    await page.getByRole('button', { name: 'Hang up' }).click();
    const dialog = page.getByRole('dialog', { name: 'Hang-up?' });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await page.locator('#action-status', { hasText: 'Hang-up: cancelled' }).waitFor();
    expect(b.sim.restRequests).toHaveLength(restBefore);
    await page.locator(`tr[data-call-sid="${call.callSid}"]`).waitFor(); // still live
    await page.getByRole('button', { name: 'Hang up' }).click();
    await dialog.getByRole('button', { name: 'Hang up now' }).click();
    // The simulator sees the bridge end the call.
    const result = await call.done;
    expect(result.endedBy).toBe('rest-completed');
    await row.waitFor({ state: 'detached' });
    await page.locator('#detail-state', { hasText: 'ended' }).waitFor();
    // The pending "Hanging up…" does not stay beside the disabled buttons: it says how it ended.
    await page.locator('#action-status', { hasText: 'Hang-up: done. Call ended: operator_hangup' }).waitFor();
    expect(await page.locator('#action-status').textContent()).not.toContain('Hanging up');
    await page.locator('#timeline li', { hasText: 'operator: Hang-up: done' }).waitFor();

    // The finished call in the history, and its review: transcript, verbs, latency, outcome, dates with the zone.
    const past = page.locator(`#history tr[data-call-sid="${call.callSid}"]`);
    await past.waitFor();
    await expect.poll(() => page.locator('#history-scope').textContent()).toContain("This replica's calls only");
    await past.getByRole('button').click();
    await page.locator('#past-sid', { hasText: call.callSid }).waitFor();
    expect(await page.locator('#past-outcome').textContent()).toBe('operator_hangup');
    expect(await page.locator('#past-agent').textContent()).toBe('support');
    expect(await page.locator('#past-caller').textContent()).toBe('•••4321');
    expect(await page.locator('#past-dialed').textContent()).toBe('•••1111');
    expect(await page.locator('#past-direction').textContent()).toBe('inbound');
    expect(await page.locator('#past-operator').textContent()).toMatch(/^hangup by console/);
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-05:00 \(America\/New_York\)$/;
    expect(await page.locator('#past-started').textContent()).toMatch(iso);
    expect(await page.locator('#past-ended').textContent()).toMatch(iso);
    expect(await page.locator('#past-v2v').textContent()).toMatch(/^\d+ ms \/ \d+ ms$/);
    expect(await page.locator('#past-ff').textContent()).toMatch(/^\d+ ms \/ \d+ ms$/);
    // the greeting as heard (a caller who spoke over it cut it short: the record keeps what was heard)
    expect(await page.locator('#past-transcript li').first().textContent()).toMatch(/Agent\s*Hello/);
    expect(await page.locator('#past-transcript li.user').count()).toBeGreaterThan(0);
    await page.locator('#past-verbs li', { hasText: 'operator_hangup → console' }).waitFor();
    expect(await page.locator('#past-dtmf').textContent()).toBe('2');
    if (SHOTS) await page.locator('#past').screenshot({ path: join(SHOTS, 'console-past-call.png') });

    // Search: by CallSid, by a time range that holds the call and one that does not.
    await page.getByLabel('CallSid').fill(call.callSid);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#history tbody tr').count()).toBe(1);
    await page.getByLabel('CallSid').fill('');
    await page.getByLabel('From', { exact: true }).fill('2001-01-01T00:00:00');
    await page.getByLabel('To', { exact: true }).fill('2001-01-02T00:00:00');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#no-history').waitFor();
    await page.getByLabel('From', { exact: true }).fill('');
    await page.getByLabel('To', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Search' }).click();
    await past.waitFor();
    expect(await unlabelled(page)).toEqual([]);
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
    await button.scrollIntoViewIfNeeded(); // the previous test left the page scrolled to a review
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

    // A level meter's label is written when the level it states changes, not at every update.
    await page.evaluate((sid) => {
      const w = window as unknown as { labelWrites: { target: Element; old: string | null }[] };
      w.labelWrites = [];
      new MutationObserver((rs) => {
        for (const r of rs) w.labelWrites.push({ target: r.target as Element, old: r.oldValue });
      }).observe(document.querySelector(`tr[data-call-sid="${sid}"]`)!, {
        subtree: true,
        attributes: true,
        attributeFilter: ['aria-label'],
        attributeOldValue: true,
      });
    }, call.callSid);
    call.say('Tell me everything about the premium plan and the family plan and how they differ');
    await new Promise((r) => setTimeout(r, 3000)); // a dozen updates of the row
    const writes = await page.evaluate(() => {
      const w = (window as unknown as { labelWrites: { target: Element; old: string | null }[] }).labelWrites;
      // each write's new value: the next write's old value on that element, or the value now
      return w.map((x, i) => {
        const later = w.slice(i + 1).find((y) => y.target === x.target);
        return { old: x.old, now: later ? later.old : x.target.getAttribute('aria-label') };
      });
    });
    expect(writes.filter((x) => x.old === x.now)).toEqual([]);
    expect(writes.length).toBeGreaterThan(0); // the levels did move
    expect(await row.locator('meter').first().getAttribute('aria-label')).toMatch(/^input level \d+%$/);

    // An action that fails says why, on the call and in its timeline.
    await page.route('**/console/api/calls/*/transfer', (r) =>
      r.fulfill({ status: 409, contentType: 'application/json', body: '{"error":"call is already ending"}' }),
    );
    await page.getByRole('button', { name: 'Transfer', exact: true }).click();
    await page
      .getByRole('dialog', { name: 'Transfer to front_desk?' })
      .getByRole('button', { name: 'Transfer now' })
      .click();
    await page
      .locator('#action-status', { hasText: 'Transfer to front_desk failed: call is already ending (HTTP 409)' })
      .waitFor();
    await page.locator('#timeline li.error', { hasText: 'Transfer to front_desk failed' }).waitFor();
    await page.unroute('**/console/api/calls/*/transfer');

    // Hang up by keyboard alone: Enter on the button opens the dialog with the focus on Cancel (a
    // double Enter hangs nobody up), Tab reaches the confirm button, Enter.
    await page.locator('#hangup').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Hang-up?' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('confirm-cancel');
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'console-confirm.png') });
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('confirm-ok');
    await page.keyboard.press('Enter');
    expect((await call.done).endedBy).toBe('rest-completed');
    await row.waitFor({ state: 'detached' });
    await page.locator('#action-status', { hasText: 'Hang-up: done' }).waitFor();
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
  it('pages through the history: Older asks for the next page, Newer for the previous, each disabled at its end', async () => {
    const asked: string[] = [];
    const entry = (i: number) => ({
      callSid: `CA${String(i).padStart(32, '0')}`,
      agent: 'support',
      caller: '•••4321',
      dialed: '•••1111',
      direction: 'inbound',
      suffix: '4321',
      outcome: 'caller_hangup',
      startedAt: new Date(Date.UTC(2026, 0, 1, 12, 0, i)).toISOString(),
      endedAt: new Date(Date.UTC(2026, 0, 1, 12, 1, i)).toISOString(),
      durationMs: 60_000,
      tools: 0,
      toolErrors: 0,
      bargeIns: 0,
      voiceToVoiceMs: [],
    });
    // The server's paging is console-history.test.ts's; here, what the page asks and shows.
    await page.route('**/console/api/history?*', (r) => {
      const q = new URL(r.request().url()).searchParams;
      asked.push(`${q.get('offset')}/${q.get('limit')}`);
      const offset = Number(q.get('offset'));
      const calls = offset === 0 ? Array.from({ length: 25 }, (_, i) => entry(30 - i)) : [5, 4, 3, 2, 1].map(entry);
      return r.fulfill({
        contentType: 'application/json',
        body: JSON.stringify({
          scope: 'replica',
          calls,
          total: 30,
          offset,
          next: offset === 0 ? 25 : null,
          summary: [],
        }),
      });
    });
    try {
      await page.getByRole('button', { name: 'Search' }).click();
      await page.locator('#h-page', { hasText: '1–25 of 30' }).waitFor();
      expect(await page.locator('#h-newer').isDisabled()).toBe(true);
      await page.getByRole('button', { name: 'Older' }).click();
      await page.locator('#h-page', { hasText: '26–30 of 30' }).waitFor();
      expect(await page.locator('#history tbody tr').count()).toBe(5);
      expect(await page.locator('#h-older').isDisabled()).toBe(true);
      // 2026-01-01T12:00:05Z in New York (UTC-5), in ISO form, the zone in the column's heading
      expect(await page.locator('#history tbody tr').first().locator('td').nth(1).textContent()).toBe(
        '2026-01-01T07:00:05-05:00',
      );
      expect(await page.locator('#history-started-h').textContent()).toBe('Started (America/New_York)');
      await page.getByRole('button', { name: 'Newer' }).click();
      await page.locator('#h-page', { hasText: '1–25 of 30' }).waitFor();
      // (a call ending meanwhile reloads the page shown: more asks, same pages)
      expect(asked[0]).toBe('0/25');
      expect(asked).toContain('25/25');
      expect(asked.at(-1)).toBe('0/25');
    } finally {
      await page.unroute('**/console/api/history?*');
    }
  });

  it('works on a 390-pixel-wide phone screen: no horizontal scroll, the call and its actions reachable', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, timezoneId: TZ });
    phone.setDefaultTimeout(WAIT);
    watchResponses(phone);
    try {
      await phone.goto(`${b.url}/console/login`);
      await phone.getByLabel('Admin token').fill(ADMIN);
      await phone.getByRole('button', { name: 'Sign in' }).click();
      await phone.waitForURL(/\/console$/);
      await phone.locator('#conn', { hasText: 'live' }).waitFor();
      const call = b.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 120_000 });
      const row = phone.locator(`tr[data-call-sid="${call.callSid}"]`);
      await row.waitFor();
      await row.getByRole('button').click();
      await phone.locator('#detail-sid', { hasText: call.callSid.slice(-6) }).waitFor();
      await phone.locator('#transcript li').first().waitFor();
      // what sticks out past the screen's right edge (none): a failure names it
      const overflow = () =>
        phone.evaluate(() =>
          [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
            .filter((e) => !e.closest('.table-scroll') || e.classList.contains('table-scroll'))
            .map(
              (e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`,
            )
            .concat(
              document.documentElement.scrollWidth > document.documentElement.clientWidth ? ['(page scrolls)'] : [],
            ),
        );
      expect(await overflow()).toEqual([]);
      if (SHOTS) await phone.screenshot({ path: join(SHOTS, 'console-phone.png'), fullPage: true });
      // Every action is on the screen's width and can be pressed (trial: nothing is sent).
      for (const name of ['Hang up', 'Transfer', 'Reload configuration', 'Sign out', 'Search']) {
        const btn = phone.getByRole('button', { name, exact: true });
        await btn.scrollIntoViewIfNeeded();
        const box = (await btn.boundingBox())!;
        expect(box.x, name).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width, name).toBeLessThanOrEqual(390);
        await btn.click({ trial: true });
      }
      await phone.getByRole('button', { name: 'Hang up' }).click();
      await phone.getByRole('dialog', { name: 'Hang-up?' }).getByRole('button', { name: 'Hang up now' }).click();
      expect((await call.done).endedBy).toBe('rest-completed');
      const past = phone.locator(`#history tr[data-call-sid="${call.callSid}"]`);
      await past.waitFor();
      await past.getByRole('button').click();
      await phone.locator('#past-sid', { hasText: call.callSid }).waitFor();
      await phone.locator('#past-transcript li').first().waitFor();
      expect(await overflow()).toEqual([]);
      if (SHOTS) await phone.locator('#past').screenshot({ path: join(SHOTS, 'console-phone-past-call.png') });
    } finally {
      await phone.close();
    }
  }, 180_000);

  it('no response the browser received holds a full phone number or a secret', async () => {
    await new Promise((r) => setTimeout(r, 500)); // the last bodies are read
    const urls = new Set(received.map((r) => r.url));
    for (const p of ['/console', '/console/api/session', '/console/api/calls', '/console/api/history'])
      expect(urls.has(p), p).toBe(true);
    expect([...urls].some((u) => u.startsWith('/console/api/history/CA'))).toBe(true);
    for (const { url, text } of received) {
      expect(text, url).not.toContain(ADMIN);
      for (const n of [CALLER, SUPPORT_NUMBER, NEW_NUMBER, '+15559871234', '+15550007777', '+15550005555']) {
        expect(text, url).not.toContain(n);
        expect(text, url).not.toContain(n.slice(2));
      }
    }
  });
});
