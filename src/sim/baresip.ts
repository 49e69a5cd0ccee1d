/**
 * Debian's baresip (1.0.0) as a real SIP user agent, driven headless: the SIP demo's caller and
 * front desk (`npm run demo -- --sip`) and the integration tests' peer. A generated config
 * directory in a temp folder (`-f dir`); audio from a WAV file (`aufile`, switchable mid-call with
 * `ausrc`) or a 1 kHz sine (`ausine`); what it receives and sends dumped to WAV by `sndfile`, one
 * pair of files per call; no sound card (`aubridge` as the player); commands and events over
 * `ctrl_tcp` (netstrings of JSON). Loopback only: it listens on 127.0.0.1 and is told to use it,
 * so its SDP names 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { writeWav } from '../audio/index.js';
import { freePort } from './free-port.js';

const MODULES = '/usr/lib/baresip/modules';

/** The baresip executable: $BARESIP, else the first `baresip` on PATH; undefined when there is none. */
export function findBaresip(): string | undefined {
  const given = process.env.BARESIP;
  if (given) return existsSync(given) ? given : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'baresip'))) return join(dir, 'baresip');
  }
  return undefined;
}

/** Whether baresip and the modules this driver loads are installed. */
export function haveBaresip(): boolean {
  return (
    findBaresip() !== undefined &&
    ['ctrl_tcp', 'aufile', 'sndfile', 'aubridge', 'g711'].every((m) => existsSync(join(MODULES, `${m}.so`)))
  );
}

export interface BaresipEvent {
  type: string;
  class?: string;
  param?: string;
  peeruri?: string;
  [k: string]: unknown;
}

/** The PCM16 samples of a WAV file (the `data` chunk, wherever it is), and its rate; tolerant of a dump still being written. */
export function readDump(bytes: Buffer): { pcm: Int16Array; rate: number } {
  let off = 12;
  let rate = 0;
  while (off + 8 <= bytes.length) {
    const id = bytes.toString('ascii', off, off + 4);
    let size = bytes.readUInt32LE(off + 4);
    if (id === 'fmt ') rate = bytes.readUInt32LE(off + 12);
    if (id === 'data') {
      // a dump still open has no size yet: take what is there
      if (size === 0 || off + 8 + size > bytes.length) size = bytes.length - off - 8;
      const data = bytes.subarray(off + 8, off + 8 + (size & ~1));
      const pcm = new Int16Array(data.length >> 1);
      for (let i = 0; i < pcm.length; i++) pcm[i] = data.readInt16LE(2 * i);
      return { pcm, rate };
    }
    off += 8 + size + (size & 1);
  }
  return { pcm: new Int16Array(0), rate };
}

function readWhole(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export interface BaresipOptions {
  /** the audio it sends: 8 kHz samples (a WAV file), or a 1 kHz sine */
  source: { pcm: Int16Array } | 'sine';
  /** its codec list, in offer order (default PCMU) */
  codecs?: string;
  /** `auto`: it answers incoming calls at once (a transfer target); default: it rings */
  answer?: 'auto' | 'manual';
  /** its SIP user name (default caller) */
  user?: string;
}

/**
 * One baresip process. aufile in 1.0.0 ends the call when its file runs out, so every source
 * given to it must last as long as the call may: `say` pads speech with silence for that.
 */
export class Baresip {
  readonly dir: string;
  readonly events: BaresipEvent[] = [];
  /** where it takes SIP (UDP), for a Request-URI or an outbound proxy */
  sipPort = 0;
  /** the RTP ports it may use (first and last) */
  rtpPorts: [number, number] = [0, 0];
  private child?: ChildProcess;
  private ctrl?: Socket;
  private buf = Buffer.alloc(0);
  private token = 0;
  private sources = 0;
  private readonly replies = new Map<string, (r: { ok: boolean; data: string }) => void>();
  private readonly waiters: (() => void)[] = [];
  /** listeners for every event as it comes */
  readonly onEvent: ((e: BaresipEvent) => void)[] = [];
  output = '';

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async start(o: BaresipOptions): Promise<Baresip> {
    const bin = findBaresip();
    if (!bin) throw new Error('baresip is not installed (apt-get install baresip)');
    const dir = mkdtempSync(join(tmpdir(), 'baresip-'));
    const b = new Baresip(dir);
    // libre also binds TLS on the SIP port + 1: that one must be free as well
    let sipPort = await freePort();
    for (let spare = await freePort(); spare !== sipPort + 1; spare = await freePort()) sipPort = spare;
    b.sipPort = sipPort;
    const ctrlPort = await freePort();
    const rtp = 40000 + 2 * Math.floor(Math.random() * 5000);
    b.rtpPorts = [rtp, rtp + 9];
    const source = o.source === 'sine' ? 'ausine,1000' : `aufile,${b.writeSource(o.source.pcm)}`;
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
        `module_path ${MODULES}`,
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
      `<sip:${o.user ?? 'caller'}@127.0.0.1:${sipPort}>;regint=0;audio_codecs=${o.codecs ?? 'PCMU'}` +
        `;answermode=${o.answer ?? 'manual'}\n`,
    );
    writeFileSync(join(dir, 'contacts'), '');
    const child = spawn(bin, ['-f', dir, '-n', '127.0.0.1', '-4'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
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

  /** A WAV file in its folder holding `pcm` (8 kHz), for aufile. */
  private writeSource(pcm: Int16Array): string {
    const file = join(this.dir, `source-${++this.sources}.wav`);
    writeFileSync(file, writeWav(pcm, 8000));
    return file;
  }

  /** From now on it sends `pcm` (8 kHz), then `padMs` of silence: aufile ends the call when its file does. */
  async say(pcm: Int16Array, padMs: number): Promise<void> {
    const all = new Int16Array(pcm.length + Math.round((padMs * 8000) / 1000));
    all.set(pcm);
    const r = await this.command('ausrc', `aufile,${this.writeSource(all)}`);
    if (!r.ok) throw new Error(`baresip refused to switch its audio source: ${r.data}`);
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
        const e = msg as BaresipEvent;
        this.events.push(e);
        for (const f of this.onEvent) f(e);
        for (const w of this.waiters.splice(0)) w();
      }
    }
  }

  /** One long command (`dial`, `hangup`, `sndcode`, `ausrc` …), answered by baresip. */
  command(command: string, params?: string): Promise<{ ok: boolean; data: string }> {
    const token = `t${++this.token}`;
    const json = JSON.stringify({ command, ...(params !== undefined ? { params } : {}), token });
    const reply = new Promise<{ ok: boolean; data: string }>((resolve) => this.replies.set(token, resolve));
    this.ctrl!.write(`${Buffer.byteLength(json)}:${json},`);
    return reply;
  }

  /** Resolves with the `nth` event (1: the first) of `type`, seen already or to come; rejects after `ms`. */
  async event(type: string, ms = 15_000, nth = 1): Promise<BaresipEvent> {
    const until = Date.now() + ms;
    for (;;) {
      const e = this.events.filter((x) => x.type === type)[nth - 1];
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

  /** The WAV files `sndfile` wrote for one direction, one per call in call order: `dec` is what it received, `enc` what it sent. */
  dumps(direction: 'dec' | 'enc'): { pcm: Int16Array; rate: number }[] {
    return readdirSync(this.dir)
      .filter((x) => x.startsWith('dump-') && x.endsWith(`-${direction}.wav`))
      .sort()
      .map((f) => readDump(readWhole(join(this.dir, f))));
  }

  /** The first call's dump of one direction (undefined until it exists). */
  dump(direction: 'dec' | 'enc'): { pcm: Int16Array; rate: number } | undefined {
    return this.dumps(direction)[0];
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
