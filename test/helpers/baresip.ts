/**
 * Debian's baresip (1.0.0) as a real SIP user agent for integration tests, driven headless: a
 * generated config directory in a temp folder (`-f dir`), audio from a WAV file (`aufile`) or
 * a 1 kHz sine (`ausine`), what it sends and receives dumped to WAV by `sndfile`, no sound card
 * (`aubridge` as the player), and commands and events over `ctrl_tcp` (netstrings of JSON).
 * Loopback only: it listens on 127.0.0.1 and is told to use `lo`, so its SDP names 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/sim/free-port.js';

export const BARESIP = '/usr/bin/baresip';
export const HAVE_BARESIP = existsSync(BARESIP) && existsSync('/usr/lib/baresip/modules/ctrl_tcp.so');

export interface BaresipEvent {
  type: string;
  class?: string;
  param?: string;
  peeruri?: string;
  [k: string]: unknown;
}

/** A WAV file (PCM16 mono) of `pcm` at `rate`: what `aufile` reads. */
export function wav(pcm: Int16Array, rate: number): Buffer {
  const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** The PCM16 samples of a WAV file (the `data` chunk, wherever it is), and its rate. */
export function readWav(file: string): { pcm: Int16Array; rate: number } {
  const b = readFileSync(file);
  let off = 12;
  let rate = 0;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    let size = b.readUInt32LE(off + 4);
    if (id === 'fmt ') rate = b.readUInt32LE(off + 12);
    if (id === 'data') {
      // a dump still open when read has no size yet: take what is there
      if (size === 0 || off + 8 + size > b.length) size = b.length - off - 8;
      const bytes = b.subarray(off + 8, off + 8 + (size & ~1));
      const pcm = new Int16Array(bytes.length >> 1);
      for (let i = 0; i < pcm.length; i++) pcm[i] = bytes.readInt16LE(2 * i);
      return { pcm, rate };
    }
    off += 8 + size + (size & 1);
  }
  return { pcm: new Int16Array(0), rate };
}

export interface BaresipOptions {
  /** the audio it sends: a WAV file's samples at 8 kHz, or a 1 kHz sine */
  source: { pcm: Int16Array } | 'sine';
  /** its codec list, in offer order (default PCMU) */
  codecs?: string;
}

export class Baresip {
  readonly dir: string;
  readonly events: BaresipEvent[] = [];
  private child?: ChildProcess;
  private ctrl?: Socket;
  private buf = Buffer.alloc(0);
  private token = 0;
  private readonly replies = new Map<string, (r: { ok: boolean; data: string }) => void>();
  private readonly waiters: (() => void)[] = [];
  output = '';

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async start(o: BaresipOptions): Promise<Baresip> {
    const dir = mkdtempSync(join(tmpdir(), 'baresip-'));
    const b = new Baresip(dir);
    // libre also binds TLS on the SIP port + 1: that one must be free as well
    let sipPort = await freePort();
    for (let spare = await freePort(); spare !== sipPort + 1; spare = await freePort()) sipPort = spare;
    const ctrlPort = await freePort();
    const rtp = 40000 + 2 * Math.floor(Math.random() * 5000);
    const source = o.source === 'sine' ? 'ausine,1000' : `aufile,${join(dir, 'source.wav')}`;
    if (o.source !== 'sine') writeFileSync(join(dir, 'source.wav'), wav(o.source.pcm, 8000));
    writeFileSync(
      join(dir, 'config'),
      [
        'poll_method epoll',
        `sip_listen 127.0.0.1:${sipPort}`,
        'call_local_timeout 60',
        'call_max_calls 2',
        `audio_player aubridge,${dir}`,
        `audio_source ${source}`,
        `audio_alert aubridge,${dir}`,
        'audio_level no',
        'ausrc_format s16',
        'auplay_format s16',
        'auenc_format s16',
        'audec_format s16',
        'rtp_tos 0',
        `rtp_ports ${rtp}-${rtp + 9}`,
        'rtp_timeout 0',
        'net_interface 127.0.0.1',
        'dns_server 127.0.0.1:53',
        'module_path /usr/lib/baresip/modules',
        'module g711.so',
        'module ausine.so',
        'module aufile.so',
        'module aubridge.so',
        'module sndfile.so',
        'module_app account.so',
        'module_app menu.so',
        'module_app ctrl_tcp.so',
        `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
        `snd_path ${dir}`,
        '',
      ].join('\n'),
    );
    // no registration (regint=0): it calls the bridge directly, as a trunk would
    writeFileSync(
      join(dir, 'accounts'),
      `<sip:caller@127.0.0.1:${sipPort}>;regint=0;audio_codecs=${o.codecs ?? 'PCMU'}\n`,
    );
    writeFileSync(join(dir, 'contacts'), '');
    const child = spawn(BARESIP, ['-f', dir, '-n', '127.0.0.1', '-4'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    b.child = child;
    child.stdout.on('data', (d: Buffer) => (b.output = (b.output + d.toString()).slice(-20_000)));
    child.stderr.on('data', (d: Buffer) => (b.output = (b.output + d.toString()).slice(-20_000)));
    // it is ready when ctrl_tcp accepts a connection
    const until = Date.now() + 10_000;
    for (;;) {
      try {
        b.ctrl = await new Promise<Socket>((resolve, reject) => {
          const s = connect(ctrlPort, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        });
        break;
      } catch (err) {
        if (Date.now() > until || child.exitCode !== null) {
          await b.close();
          throw new Error(`baresip did not start: ${String(err)}\n${b.output}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    b.ctrl.on('data', (d: Buffer) => b.onData(d));
    b.ctrl.on('error', () => undefined);
    return b;
  }

  /** netstrings: `<length>:<json>,` */
  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const colon = this.buf.indexOf(0x3a);
      if (colon < 0) return;
      const len = Number(this.buf.subarray(0, colon).toString());
      if (this.buf.length < colon + 1 + len + 1) return;
      const text = this.buf.subarray(colon + 1, colon + 1 + len).toString();
      this.buf = this.buf.subarray(colon + 2 + len);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (msg.response && typeof msg.token === 'string') {
        this.replies.get(msg.token)?.({ ok: msg.ok === true, data: typeof msg.data === 'string' ? msg.data : '' });
        this.replies.delete(msg.token);
      } else if (msg.event) {
        this.events.push(msg as BaresipEvent);
        for (const w of this.waiters.splice(0)) w();
      }
    }
  }

  /** One long command (`dial`, `hangup`, `sndcode` …), answered by baresip. */
  command(command: string, params?: string): Promise<{ ok: boolean; data: string }> {
    const token = `t${++this.token}`;
    const json = JSON.stringify({ command, ...(params !== undefined ? { params } : {}), token });
    const reply = new Promise<{ ok: boolean; data: string }>((resolve) => this.replies.set(token, resolve));
    this.ctrl!.write(`${Buffer.byteLength(json)}:${json},`);
    return reply;
  }

  /** Resolves with the first event of `type` (seen already or to come); rejects after `ms`. */
  async event(type: string, ms = 15_000): Promise<BaresipEvent> {
    const until = Date.now() + ms;
    for (;;) {
      const e = this.events.find((x) => x.type === type);
      if (e) return e;
      const left = until - Date.now();
      if (left <= 0)
        throw new Error(
          `baresip: no ${type} within ${ms} ms; events ${this.events.map((x) => x.type).join(',')}\n${this.output.slice(-3000)}`,
        );
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** The WAV `sndfile` wrote for one direction: `dec` is what baresip received, `enc` what it sent. */
  dump(direction: 'dec' | 'enc'): { pcm: Int16Array; rate: number } | undefined {
    const f = readdirSync(this.dir).find((x) => x.startsWith('dump-') && x.endsWith(`-${direction}.wav`));
    return f ? readWav(join(this.dir, f)) : undefined;
  }

  /** Quits baresip (SIGTERM, then SIGKILL after 3 s) and removes its folder. Idempotent. */
  async close(keepDir = false): Promise<void> {
    this.ctrl?.destroy();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const guard = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(guard);
    }
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
