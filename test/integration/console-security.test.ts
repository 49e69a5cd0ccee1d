import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_TOKEN, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { consoleLogin, readEvents } from '../helpers/console.js';
import { metricValue } from '../helpers/metrics.js';
import { testToken } from '../helpers/tokens.js';

const ADMIN = testToken('console admin');
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
    // a link to one call keeps its CallSid through the login; anything else in it is dropped
    const sid = `CA${'ab'.repeat(16)}`;
    const linked = await fetch(`${base}/console?call=${sid}`, { redirect: 'manual' });
    expect(linked.headers.get('location')).toBe(`/console/login?call=${sid}`);
    for (const bad of ['https://evil.example/', `${sid}&next=//evil.example`, 'CA1'])
      expect(
        (await fetch(`${base}/console?call=${encodeURIComponent(bad)}`, { redirect: 'manual' })).headers.get(
          'location',
        ),
      ).toBe('/console/login');
    for (const cookie of [undefined, 'opb_console=forged-session-id', `opb_console=${'A'.repeat(43)}`]) {
      const headers: Record<string, string> = cookie ? { cookie } : {};
      for (const p of [
        '/console/api/events',
        '/console/api/calls',
        '/console/api/session',
        '/console/api/history',
        `/console/api/history/CA${'0'.repeat(32)}`,
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
    for (let i = 0; i < 7; i++) codes.push((await bad(`wrong-${i}`)).status);
    expect(codes).toEqual([401, 401, 401, 401, 401, 429, 429]); // five free, then this source backs off
    const slowed = await bad('wrong-again');
    expect(slowed.status).toBe(429);
    expect(Number(slowed.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await bad(ADMIN)).status).toBe(204); // the right token is never refused by the backoff
  });

  it('backs off wrong logins per source, never globally: six addresses spraying wrong tokens lock nobody out', async () => {
    h = await start({ ADMIN_TOKEN: ADMIN, PYAI_API_KEY: PYAI_KEY, TRUST_PROXY_HOPS: '1' });
    const base = h.bridgeUrl;
    const login = (token: string, from: string) =>
      fetch(`${base}/console/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: base, 'x-forwarded-for': from },
        body: JSON.stringify({ token }),
      }).then((r) => r.status);
    // The attacker: 6 addresses × 10 wrong tokens, twice the old global limit of 30 a minute.
    const sprayed: Record<string, number[]> = {};
    for (let s = 1; s <= 6; s++) {
      const from = `203.0.113.${s}`;
      sprayed[from] = [];
      for (let i = 0; i < 10; i++) sprayed[from].push(await login(`wrong-${s}-${i}`, from));
    }
    for (const codes of Object.values(sprayed)) {
      expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(new Set(codes.slice(5))).toEqual(new Set([429]));
    }
    // The operator, from elsewhere: a wrong token is an ordinary 401, the right one gets in.
    expect(await login('a-typo', '198.51.100.7')).toBe(401);
    expect((await consoleLogin(base, ADMIN, { headers: { 'x-forwarded-for': '198.51.100.7' } })).cookie).toMatch(
      /^opb_console=/,
    );
    // Even from an address that is backing off (a shared NAT, a proxy), the right token gets in.
    expect(await login(ADMIN, '203.0.113.1')).toBe(204);
    expect(
      await metricValue(h.bridge, 'bridge_webhook_rejected_total', { route: 'console', reason: 'login_rate' }),
    ).toBe(30);
  });

  it('behind a proxy without TRUST_PROXY_HOPS (one address for everyone), wrong logins do not lock out the right token', async () => {
    h = await start();
    const base = h.bridgeUrl;
    const login = (token: string) =>
      fetch(`${base}/console/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: base },
        body: JSON.stringify({ token }),
      }).then((r) => r.status);
    const codes: number[] = [];
    for (let i = 0; i < 20; i++) codes.push(await login(`wrong-${i}`));
    expect(codes.filter((c) => c === 429).length).toBe(15);
    expect(await login(ADMIN)).toBe(204);
  });

  it('marks the session cookie Secure when the bridge is served over https, and not on plain http', async () => {
    h = await start({ ADMIN_TOKEN: ADMIN, PUBLIC_URL: 'https://bridge.example.com' });
    expect((await consoleLogin(h.bridgeUrl, ADMIN, { origin: 'https://bridge.example.com' })).setCookie).toMatch(
      /; Secure/,
    );
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

  it('refuses a login and an action whose Origin matches the Host header but not PUBLIC_URL (DNS rebinding)', async () => {
    h = await start();
    const port = Number(new URL(h.bridgeUrl).port);
    // A page on http://rebound.attacker.example:PORT whose name now resolves to 127.0.0.1: the
    // browser sends that name as Host and Origin alike.
    const rebound = `rebound.attacker.example:${port}`;
    const post = (path: string, body: string, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            path,
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const token = JSON.stringify({ token: ADMIN });
    expect(await post('/console/login', token, { host: rebound, origin: `http://${rebound}` })).toBe(403);
    const { cookie, csrf } = await consoleLogin(h.bridgeUrl, ADMIN);
    const action = { host: rebound, origin: `http://${rebound}`, cookie, 'x-csrf-token': csrf };
    expect(await post('/console/api/config/reload', '{}', action)).toBe(403);
    // PUBLIC_URL's origin, and its other loopback spellings (PUBLIC_URL is on loopback here), pass.
    expect(await post('/console/login', token, { host: rebound, origin: h.bridgeUrl })).toBe(204);
    expect(await post('/console/login', token, { origin: `http://localhost:${port}` })).toBe(204);
    expect(
      await metricValue(h.bridge, 'bridge_webhook_rejected_total', { route: 'console', reason: 'bad_origin' }),
    ).toBe(2);
  });

  it('ends the event streams of a session at logout: nothing published afterwards reaches them', async () => {
    h = await start();
    const base = h.bridgeUrl;
    const { cookie, csrf } = await consoleLogin(base, ADMIN);
    const other = await consoleLogin(base, ADMIN); // another operator's session stays open
    const ctl = new AbortController();
    const bound = setTimeout(() => ctl.abort(), 20_000); // a hang detector, not a timing claim
    const open = async (c: string) => {
      const res = await fetch(`${base}/console/api/events`, { headers: { cookie: c }, signal: ctl.signal });
      expect(res.status).toBe(200);
      return (res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    };
    const mine = await open(cookie);
    const theirs = await open(other.cookie);
    const decoder = new TextDecoder();
    const readUntil = async (it: AsyncIterator<Uint8Array>, want: string) => {
      let text = '';
      while (!text.includes(want)) {
        const { value, done } = await it.next();
        if (done) return { text, ended: true };
        text += decoder.decode(value, { stream: true });
      }
      return { text, ended: false };
    };
    try {
      expect((await readUntil(mine, '"snapshot"')).ended).toBe(false);
      expect((await readUntil(theirs, '"snapshot"')).ended).toBe(false);
      const out = await fetch(`${base}/console/logout`, {
        method: 'POST',
        headers: { cookie, origin: base, 'x-csrf-token': csrf },
      });
      expect(out.status).toBe(204);
      h.bridge.ctx.feeds.publish({ kind: 'reload', ok: true, message: 'published after logout', at: 'now' });
      // The logged-out session's stream ends without it; the other session's stream gets it.
      const after = await readUntil(mine, 'published after logout');
      expect(after.text).not.toContain('published after logout');
      expect(after.ended).toBe(true);
      expect((await readUntil(theirs, 'published after logout')).ended).toBe(false);
    } finally {
      clearTimeout(bound);
      ctl.abort();
    }
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
    const review = await fetch(`${base}/console/api/history/${call.callSid}`, { headers: { cookie } });
    expect(review.status).toBe(200); // the past call's review
    texts.push(await review.text());
    const all = texts.join('\n');
    for (const secret of [ADMIN, AUTH_TOKEN, PYAI_KEY]) expect(all).not.toContain(secret);
    expect(all).not.toContain(CALLER);
    expect(all).not.toContain(CALLER.slice(2));
    expect(all).toContain('•••4321');
  });
});
