import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readWav } from '../../src/audio/index.js';
import { runCallCli, type CliIo } from '../../src/sim/twilio/cli.js';
import { ACCOUNT, PUBLIC_URL, TOKEN, startStandIn, streamTwiml, type StandIn } from './simulator-standin.js';

let standIn: StandIn | undefined;
let dir: string | undefined;

afterEach(async () => {
  await standIn?.close();
  standIn = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function io(env: NodeJS.ProcessEnv = { TWILIO_AUTH_TOKEN: TOKEN }) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIo = { out: (s) => out.push(s), err: (s) => err.push(s), env };
  return { value, out, err };
}

describe('omni-phone-bridge call (simulator CLI)', () => {
  it('places a call, hangs up after the given time, prints JSON and records what was heard', async () => {
    standIn = await startStandIn({ '/twilio/voice': streamTwiml({ agent: 'support' }) });
    dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    const wav = join(dir, 'not-yet', 'heard.wav'); // its folder is created
    const o = io();
    const code = await runCallCli(
      [
        '--bridge',
        standIn.url,
        '--public-url',
        PUBLIC_URL,
        '--account-sid',
        ACCOUNT,
        '--rest-port',
        '0',
        '--dtmf',
        '12',
        '--hangup-after',
        '800',
        '--json',
        '--record',
        wav,
        '--to',
        '+15550001111',
      ],
      o.value,
    );
    expect(o.err.join('')).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(o.out.join(''));
    expect(result.endedBy).toBe('caller');
    expect(result.violations).toEqual([]);
    expect(result.streams).toHaveLength(1);
    expect(result.heard).toBeUndefined();
    expect(result.received).toBeUndefined(); // no typed array as {"0":…}: the JSON stays small
    expect(o.out.join('').length).toBeLessThan(50_000);
    expect(result.heardMs).toBeGreaterThan(600);
    expect(standIn.webhooks[0]!.params.To).toBe('+15550001111');
    const audio = readWav(readFileSync(wav));
    expect(audio.rate).toBe(8000);
    expect(audio.samples.length / 8).toBeCloseTo(result.heardMs, -2);
  });

  it('prints a readable live timeline and a summary', async () => {
    standIn = await startStandIn({ '/twilio/voice': '<Response><Pause length="1"/><Hangup/></Response>' });
    const o = io();
    const code = await runCallCli(
      ['--bridge', standIn.url, '--public-url', PUBLIC_URL, '--account-sid', ACCOUNT, '--rest-port', '0'],
      o.value,
    );
    expect(code).toBe(0);
    const text = o.out.join('');
    // printed numbers are masked like a log's: the last four digits only
    expect(text).toMatch(/^00:00\.\d{3} {2}twilio {3}incoming call •••4321 → •••1111/m);
    expect(text).not.toMatch(/\+1555\d{7}/);
    expect(text).toMatch(/^00:01\.\d{3} {2}twilio {3}hangup$/m);
    expect(text).toMatch(/ended by bridge-hangup/);
    expect(text).toMatch(/no protocol violations/);
  });

  it('exits 1 when the call had violations (bad signature → 403)', async () => {
    standIn = await startStandIn({ '/twilio/voice': streamTwiml() });
    const o = io({ TWILIO_AUTH_TOKEN: 'not-the-right-token' });
    const code = await runCallCli(
      ['--bridge', standIn.url, '--public-url', PUBLIC_URL, '--account-sid', ACCOUNT, '--rest-port', '0', '--json'],
      o.value,
    );
    expect(code).toBe(1);
    expect(JSON.parse(o.out.join('')).violations[0]).toMatch(/answered HTTP 403/);
  });

  it('refuses to run without TWILIO_AUTH_TOKEN or with bad options', async () => {
    const a = io({});
    expect(await runCallCli([], a.value)).toBe(2);
    expect(a.err.join('')).toMatch(/TWILIO_AUTH_TOKEN/);
    const b = io();
    expect(await runCallCli(['--nope'], b.value)).toBe(2);
    const c = io();
    expect(await runCallCli(['--human', 'maybe'], c.value)).toBe(2);
    const d = io();
    expect(await runCallCli(['--hangup-after', 'soon'], d.value)).toBe(2);
  });
});
