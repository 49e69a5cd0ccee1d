/**
 * `npm run demo -- --sip`: the real CLI places the demo's call over SIP from Debian's baresip
 * (caller and front desk), through the bridge, to the offline engine. What baresip recorded is
 * the WAV; the JSON says what the bridge and the engine saw. Skipped without baresip (outside CI).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readWav } from '../../../src/audio/index.js';
import { audibleMs } from '../../../src/sim/heard.js';
import { BRIDGE_CLI } from '../../helpers/process.js';
import { HAVE_BARESIP } from '../../helpers/baresip.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
/** hang guard for a ~45 s scripted call on a loaded machine */
const BOUND_MS = 150_000;

interface Summary {
  unmet: string[];
  transport: string;
  outcome: string;
  calls: number;
  dtmf: string;
  callerTurns: string[];
  audio: {
    heardAgentMs: number;
    heardFrontDeskMs: number;
    agentSpokeMs: number;
    callerSentMs: number;
    engineHeardCallerMs: number;
  };
  rtp: { packetsIn: number; packetsOut: number; latchedToCaller: boolean };
  durationMs: number;
  engineViolations: string[];
  timeline: { atMs: number; who: string; what: string }[];
}

if (!HAVE_BARESIP) console.log('demo --sip test skipped: baresip is not installed (apt-get install baresip)');

describe.skipIf(!HAVE_BARESIP && !process.env.CI)('the offline demo over SIP (baresip as the caller)', () => {
  it(
    "demo --sip --json: the call is transferred as scripted, the caller's WAV holds all the agent said, and the caller's RTP fed the engine",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'opb-demo-sip-'));
      const out = join(dir, 'heard.wav');
      const child = spawn(process.execPath, [...BRIDGE_CLI, 'demo', '--sip', '--json', '--out', out], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const kill = setTimeout(() => child.kill('SIGKILL'), BOUND_MS);
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      clearTimeout(kill);
      try {
        expect(code, stderr.slice(-2000)).toBe(0);
        const lines = stdout.trim().split('\n');
        expect(lines).toHaveLength(1);
        const s = JSON.parse(lines[0]!) as Summary;
        expect(s.unmet).toEqual([]);
        expect(s.engineViolations).toEqual([]);
        // ended cleanly: the REFER took the caller to the front desk (a second call), not a timeout
        expect(s).toMatchObject({ transport: 'sip', outcome: 'transferred', calls: 2, dtmf: '482913#' });
        expect(stdout + stderr).not.toMatch(/\+\d{7,15}/);

        // the caller's RTP reached the bridge for the whole call, from baresip's port (latched),
        // and its one spoken line reached the engine as one turn of about its length
        expect(s.rtp.latchedToCaller).toBe(true);
        expect(s.rtp.packetsIn).toBeGreaterThanOrEqual(0.9 * (s.durationMs / 20));
        expect(s.callerTurns).toHaveLength(1);
        expect(s.audio.callerSentMs).toBeGreaterThan(1500);
        expect(Math.abs(s.audio.engineHeardCallerMs - s.audio.callerSentMs)).toBeLessThanOrEqual(
          0.15 * s.audio.callerSentMs,
        );
        // the caller spoke after the greeting and keyed after the agent's question, not over them
        const at = (who: string, what: RegExp) =>
          s.timeline.find((e) => e.who === who && what.test(e.what))?.atMs ?? -1;
        expect(at('caller', /^says "Hi/)).toBeGreaterThan(at('agent', /^says "Hello/));
        expect(at('caller', /^keys 482913#/)).toBeGreaterThan(at('agent', /^collect /));

        // the WAV: what baresip received, 8 kHz; it holds the agent's speech (as long as the engine
        // sent, within 15%) and then the front desk's line
        const wav = readWav(readFileSync(out));
        expect(wav.rate).toBe(8000);
        expect(s.audio.agentSpokeMs).toBeGreaterThan(10_000);
        expect(Math.abs(s.audio.heardAgentMs - s.audio.agentSpokeMs)).toBeLessThanOrEqual(0.15 * s.audio.agentSpokeMs);
        expect(s.audio.heardFrontDeskMs).toBeGreaterThan(1000);
        expect(audibleMs(wav.samples, wav.rate)).toBeGreaterThanOrEqual(
          s.audio.heardAgentMs + s.audio.heardFrontDeskMs - 40,
        );
        console.log(`demo --sip: ${JSON.stringify({ audio: s.audio, rtp: s.rtp, durationMs: s.durationMs })}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    BOUND_MS + 10_000,
  );
});
