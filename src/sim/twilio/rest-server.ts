import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RecordedRestRequest } from './types.js';

/**
 * The fake Twilio REST API: `POST /2010-04-01/Accounts/{AC}/Calls/{CA}.json` (update) and
 * `POST …/Calls.json` (create), with Basic auth and Twilio's JSON error shape. What a request
 * does to a call is up to the simulator (RestBackend); this module owns HTTP only.
 */

export interface RestCallView {
  sid: string;
  status: string;
  from: string;
  to: string;
  direction: string;
}

/** A call view on success; otherwise Twilio's error status, code and message. */
export interface RestOutcome {
  status: number;
  code?: number;
  message?: string;
  call?: RestCallView;
}

export interface RestBackend {
  accountSid: string;
  authToken: string;
  now(): number;
  /** the call if the simulator knows it (live or ended) */
  find(callSid: string): RestCallView | undefined;
  /** applies an update to a live call; returns an error (status, message) or the call view */
  update(callSid: string, form: Record<string, string | string[]>): RestOutcome;
  create(form: Record<string, string | string[]>): RestOutcome;
}

const MAX_BODY = 64 * 1024;
const CALL_RE = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\/([^/]+)\.json$/;
const CALLS_RE = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\.json$/;

function parseForm(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function checkAuth(header: string | undefined, accountSid: string, authToken: string): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  return decoded === `${accountSid}:${authToken}`;
}

function callJson(accountSid: string, c: RestCallView): Record<string, unknown> {
  return {
    sid: c.sid,
    account_sid: accountSid,
    status: c.status,
    from: c.from,
    to: c.to,
    direction: c.direction,
    api_version: '2010-04-01',
    uri: `/2010-04-01/Accounts/${accountSid}/Calls/${c.sid}.json`,
  };
}

export async function startRestServer(
  backend: RestBackend,
  record: RecordedRestRequest[],
  port = 0,
): Promise<{ base: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const form = parseForm(Buffer.concat(chunks).toString('utf8'));
      const authOk = checkAuth(req.headers.authorization, backend.accountSid, backend.authToken);
      const reply = (status: number, body: Record<string, unknown>) => {
        record.push({ atMs: backend.now(), method: req.method ?? '', path, authOk, form, status });
        res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close' });
        res.end(JSON.stringify(body));
      };
      const error = (status: number, code: number, message: string) =>
        reply(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
      const notFound = () => error(404, 20404, `The requested resource ${path} was not found`);

      if (!authOk) return error(401, 20003, 'Authenticate');
      const one = CALL_RE.exec(path);
      const many = CALLS_RE.exec(path);
      const account = one?.[1] ?? many?.[1];
      if (account !== undefined && account !== backend.accountSid) return error(401, 20003, 'Authenticate');
      if (one && req.method === 'GET') {
        const c = backend.find(one[2]!);
        return c ? reply(200, callJson(backend.accountSid, c)) : notFound();
      }
      if (one && req.method === 'POST') {
        const r = backend.update(one[2]!, form);
        if (r.status === 404) return notFound();
        if (r.call) return reply(r.status, callJson(backend.accountSid, r.call));
        return error(r.status, r.code ?? 20001, r.message ?? 'error');
      }
      if (many && req.method === 'POST') {
        const r = backend.create(form);
        if (r.call) return reply(r.status, callJson(backend.accountSid, r.call));
        return error(r.status, r.code ?? 20001, r.message ?? 'error');
      }
      return notFound();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
