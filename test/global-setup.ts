/**
 * Tests that spawn the bridge run what production runs, `node dist/main.js`: no TypeScript loader
 * compiling every file again in each spawned process. This builds dist/ once before any test when it
 * is missing or older than src/, exactly as `npm start` would.
 * It also says in one line each, before any test, when the Redis the fleet tests need is not answering
 * and when a real peer the tests drive (Chromium, SIPp, baresip) is missing, so their tests are
 * reported skipped with the reason rather than silently.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, join } from 'node:path';
import type { TestProject } from 'vitest/node';

const ROOT = new URL('..', import.meta.url).pathname;

/** Whether an executable of this name is on PATH. */
function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, name)));
}

/** Whether a Redis answers PING at host:port within a second. */
function redisAnswers(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = createConnection({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString('latin1').startsWith('+PONG')));
  });
}

export default async function setup(project: TestProject): Promise<void> {
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  // Each vitest project runs this setup: check and say it once, tell every project (NO_REDIS).
  const said = process.env.OPB_REDIS_UP !== undefined;
  if (!said) process.env.OPB_REDIS_UP = (await redisAnswers(redisUrl)) ? '1' : '0';
  const redisUp = process.env.OPB_REDIS_UP === '1';
  project.provide('redisUp', redisUp);
  if (!said && !redisUp)
    console.warn(
      `!! Redis does not answer at ${redisUrl}: the fleet tests are ` +
        `${process.env.CI ? 'run and will FAIL (CI=true)' : 'skipped'}. Start one with: ` +
        'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no (.ci/run does this)',
    );
  if (!said) {
    const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
    const missing = [
      ...(existsSync(chromium) ? [] : [`Chromium (${chromium}): the console browser tests`]),
      ...(onPath('sipp') ? [] : ['SIPp (sipp): the SIP tests']),
      ...(onPath('baresip') ? [] : ['baresip: the baresip SIP tests']),
      ...(existsSync('/usr/sbin/kamailio') ? [] : ['Kamailio (/usr/sbin/kamailio): the SIP dispatcher test']),
      ...(existsSync('/usr/sbin/haproxy') ? [] : ['HAProxy (/usr/sbin/haproxy): the balancer test']),
    ];
    // Under CI=true those tests run and fail instead: a missing peer is never a silent pass there.
    for (const m of missing)
      console.warn(
        `!! missing ${m} are ${process.env.CI ? 'run and will FAIL (CI=true)' : 'skipped'}. ` +
          'Install with: apt-get install -y chromium sip-tester baresip kamailio haproxy prometheus (.ci/run does this)',
      );
  }
  const r = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0)
    throw new Error(`scripts/build.mjs --if-stale failed (status ${r.status}):\n${r.stdout}${r.stderr}`);
}
