/** For the console's tests: log in over plain HTTP and read its event stream. */

export interface ConsoleLogin {
  cookie: string;
  csrf: string;
  setCookie: string;
}

/**
 * Logs in at `base` with the Origin a browser on `origin` would send (default: `base`, which is
 * the bridge's PUBLIC_URL in the harness) and any extra headers (X-Forwarded-For).
 */
export async function consoleLogin(
  base: string,
  token: string,
  o: { origin?: string; headers?: Record<string, string> } = {},
): Promise<ConsoleLogin> {
  const res = await fetch(`${base}/console/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: o.origin ?? base, ...(o.headers ?? {}) },
    body: JSON.stringify({ token }),
  });
  if (res.status !== 204) throw new Error(`login failed: ${res.status}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  const session = (await (await fetch(`${base}/console/api/session`, { headers: { cookie } })).json()) as {
    csrf: string;
  };
  return { cookie, csrf: session.csrf, setCookie };
}

/**
 * Reads Server-Sent Events from `path` until `done(events)` holds or `timeoutMs` passes; returns
 * the events and the raw text received (for the no-secret checks).
 */
export async function readEvents(
  base: string,
  path: string,
  cookie: string,
  done: (evs: Record<string, unknown>[]) => boolean,
  timeoutMs = 20_000,
): Promise<{ events: Record<string, unknown>[]; raw: string }> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  const events: Record<string, unknown>[] = [];
  let raw = '';
  try {
    const res = await fetch(`${base}${path}`, { headers: { cookie }, signal: ctl.signal });
    if (res.status !== 200 || !res.body) throw new Error(`event stream: ${res.status}`);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const text = decoder.decode(chunk, { stream: true });
      raw += text;
      buf += text;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of block.split('\n'))
          if (line.startsWith('data: ')) events.push(JSON.parse(line.slice(6)) as Record<string, unknown>);
      }
      if (done(events)) break;
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
  return { events, raw };
}
