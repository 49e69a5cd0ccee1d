import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_TOKEN, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { consoleLogin, readEvents } from '../helpers/console.js';

const ADMIN = 'console-admin-token-5f2e9a7c';
const PYAI_KEY = 'pyai-key-for-console-test-81d3';
const CALLER = '+15557654321';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const start = (env: Record<string, string> = { ADMIN_TOKEN: ADMIN, PYAI_API_KEY: PYAI_KEY }) =>
  startHarness({ env, secrets: [AUTH_TOKEN, ADMIN, PYAI_KEY], human: { answer: 'answer', talkMs: 400 } });

describe('console security', () => {
  it('is off (404) without ADMIN_TOKEN', async () => {
    h = await start({});
    for (const p of ['/console', '/console/login', '/console/api/events', '/console/assets/app.js']) {
      expect((await fetch(`${h.bridgeUrl}${p}`)).status, p).toBe(404);
    }
    expect(
      (
        await fetch(`${h.bridgeUrl}/console/login`, {
          method: 'POST',
          headers: { origin: h.bridgeUrl, 'content-type': 'application/json' },
          body: JSON.stringify({ token: '' }),
        })
      ).status,
    ).toBe(404);
  });

  it('refuses pages, assets, the API and the event stream without a session or with a forged cookie', async () => {
    h = await start();
    const base = h.bridgeUrl;
    const page = await fetch(`${base}/console`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/console/login');
    for (const cookie of [undefined, 'opb_console=forged-session-id', `opb_console=${'A'.repeat(43)}`]) {
      const headers: Record<string, string> = cookie ? { cookie } : {};
      for (const p of [
        '/console/api/events',
        '/console/api/calls',
        '/console/api/session',
        '/console/api/history',
        '/console/assets/app.js',
        '/console/assets/index.html',
      ]) {
        expect((await fetch(`${base}${p}`, { headers })).status, `${p} with ${cookie}`).toBe(401);
      }
      expect((await fetch(`${base}/console`, { headers, redirect: 'manual' })).status).toBe(303);
    }
    // The login page and its own assets are public.
    expect((await fetch(`${base}/console/login`)).status).toBe(200);
    expect((await fetch(`${base}/console/assets/login.js`)).status).toBe(200);
  });

  it('sets an HttpOnly SameSite=Strict cookie and a strict CSP, and refuses wrong tokens then rate-limits them', async () => {
    h = await start();
    const base = h.bridgeUrl;
    const login = await consoleLogin(base, ADMIN);
    expect(login.setCookie).toMatch(/HttpOnly/);
    expect(login.setCookie).toMatch(/SameSite=Strict/);
    expect(login.setCookie).not.toContain(ADMIN);
    const page = await fetch(`${base}/console`, { headers: { cookie: login.cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const bad = (token: string, origin: string | null = base) =>
      fetch(`${base}/console/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) },
        body: JSON.stringify({ token }),
      });
    expect((await bad(ADMIN, 'https://evil.example')).status).toBe(403); // login CSRF
    expect((await bad(ADMIN, null)).status).toBe(403);
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await bad(`wrong-${i}`)).status);
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes[5]).toBe(429);
    expect((await bad(ADMIN)).status).toBe(429); // even the right token, until the window moves on
  });

  it('marks the session cookie Secure when the bridge is served over https, and not on plain http', async () => {
    h = await start({ ADMIN_TOKEN: ADMIN, PUBLIC_URL: 'https://bridge.example.com' });
    expect((await consoleLogin(h.bridgeUrl, ADMIN)).setCookie).toMatch(/; Secure/);
    await h.close();
    h = await start();
    expect((await consoleLogin(h.bridgeUrl, ADMIN)).setCookie).not.toMatch(/Secure/);
  });

  it('refuses cross-site actions: a foreign or missing Origin, a missing or wrong CSRF token; the call goes on', async () => {
    h = await start();
    const base = h.bridgeUrl;
    const call = h.sim.placeCall({ to: '+15550001111', from: CALLER, maxDurationMs: 30_000 });
    await waitFor(() => h!.bridge.ctx.registry.get(call.callSid)?.hasStream === true, 10_000);
    const { cookie, csrf } = await consoleLogin(base, ADMIN);
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/console/api/calls/${call.callSid}/hangup`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: '{}',
      });
    expect((await post({ origin: 'https://evil.example', 'x-csrf-token': csrf })).status).toBe(403);
    expect((await post({ 'x-csrf-token': csrf })).status).toBe(403);
    expect((await post({ origin: base })).status).toBe(403);
    expect((await post({ origin: base, 'x-csrf-token': `${csrf}x` })).status).toBe(403);
    expect(
      (await fetch(`${base}/console/api/config/reload`, { method: 'POST', headers: { cookie, origin: base } })).status,
    ).toBe(403);
    expect(h.bridge.ctx.registry.get(call.callSid)?.isEnded).toBe(false);
    expect((await post({ origin: base, 'x-csrf-token': csrf })).status).toBe(202);
    expect((await call.done).endedBy).toBe('rest-completed');
  });

  it("transfers only to one of the call agent's configured targets, by name", async () => {
    h = await start();
    const base = h.bridgeUrl;
    const call = h.sim.placeCall({ to: '+15550001111', from: CALLER, maxDurationMs: 30_000 });
    await waitFor(() => h!.bridge.ctx.registry.get(call.callSid)?.hasStream === true, 10_000);
    const { cookie, csrf } = await consoleLogin(base, ADMIN);
    const transfer = (target: string) =>
      fetch(`${base}/console/api/calls/${call.callSid}/transfer`, {
        method: 'POST',
        headers: { cookie, origin: base, 'x-csrf-token': csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ target }),
      });
    expect((await transfer('+19005550123')).status).toBe(400);
    expect((await transfer('sales_team')).status).toBe(400); // the sales agent's target, not this call's agent's
    expect(h.sim.restRequests).toHaveLength(0);
    expect((await transfer('front_desk')).status).toBe(202);
    await waitFor(() => h!.sim.restRequests.some((r) => String(r.form.Twiml ?? '').includes('<Dial')), 20_000);
    call.hangup();
    await call.done;
  });

  it('does no level work while nobody watches, and sends the page no secret and no full phone number: HTML, scripts, API answers and the live event stream', async () => {
    h = await start();
    const base = h.bridgeUrl;
    const call = h.sim.placeCall({ to: '+15550001111', from: CALLER, maxDurationMs: 30_000 });
    await waitFor(() => h!.bridge.ctx.registry.get(call.callSid)?.hasStream === true, 10_000);
    // Nobody watches yet: the greeting goes out and the level meters are never touched.
    await waitFor(() => (h!.bridge.ctx.registry.get(call.callSid)?.playback.stats.framesSent ?? 0) > 25, 10_000);
    const feed = h.bridge.ctx.feeds.get(call.callSid)!;
    expect(feed.watched).toBe(false);
    expect([feed.inLevel.take(), feed.outLevel.take()]).toEqual([0, 0]);
    const { cookie } = await consoleLogin(base, ADMIN);
    const texts: string[] = [];
    for (const p of [
      '/console',
      '/console/login',
      '/console/assets/app.js',
      '/console/assets/login.js',
      '/console/assets/style.css',
      '/console/api/session',
      '/console/api/calls',
    ]) {
      const r = await fetch(`${base}${p}`, { headers: { cookie } });
      expect(r.status, p).toBe(200);
      texts.push(await r.text());
    }
    // The call's own stream: backlog, transcript, levels, until the agent's greeting is in the transcript.
    const sse = await readEvents(
      base,
      `/console/api/events?call=${call.callSid}`,
      cookie,
      (evs) =>
        evs.some((e) => e.kind === 'transcript') && evs.some((e) => e.kind === 'levels' && (e.out as number) > 0),
    );
    expect(sse.events.some((e) => e.kind === 'transcript')).toBe(true);
    expect(sse.events.some((e) => e.kind === 'levels' && (e.out as number) > 0)).toBe(true);
    texts.push(sse.raw);
    call.hangup();
    await call.done;
    await waitFor(() => h!.bridge.ctx.history.search({}).length === 1, 10_000);
    texts.push(await (await fetch(`${base}/console/api/history`, { headers: { cookie } })).text());
    const all = texts.join('\n');
    for (const secret of [ADMIN, AUTH_TOKEN, PYAI_KEY]) expect(all).not.toContain(secret);
    expect(all).not.toContain(CALLER);
    expect(all).not.toContain(CALLER.slice(2));
    expect(all).toContain('•••4321');
  });
});
