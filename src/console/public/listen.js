// Listen-in: one call's audio over a WebSocket, the caller and what the caller hears, mixed by
// Web Audio. Message format (src/observability/listen-tap.ts): [version 1][0][seq u16 BE]
// [caller bytes C u16 BE], C bytes of the caller, then what the caller hears; 8 kHz G.711 μ-law.
// Each channel is scheduled on its own timeline a little ahead of the
// clock; a channel that would fall more than MAX_AHEAD_S behind real time drops audio instead.

const PROTOCOL = 'opb-listen.v1';
const RATE = 8000;
/** scheduled this far ahead of the audio clock: room for the 100 ms batches to arrive unevenly */
const LEAD_S = 0.12;
/** never more than this much audio queued per channel: listening stays within half a second of the call */
const MAX_AHEAD_S = 0.4;

/** μ-law byte → sample in [-1, 1) (ITU-T G.711), once. */
const MULAW = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    const u = ~i & 0xff;
    const exp = (u >> 4) & 7;
    const mag = ((((u & 0x0f) << 3) + 0x84) << exp) - 0x84;
    t[i] = (u & 0x80 ? -mag : mag) / 32768;
  }
  return t;
})();

export class CallListener {
  /**
   * @param {string} callSid
   * @param {string} csrf the session's CSRF token (sent as a subprotocol: a browser cannot set headers)
   * @param {(state: string, detail?: string) => void} onState 'connecting' | 'listening' | 'stopped'
   */
  constructor(callSid, csrf, onState) {
    this.callSid = callSid;
    this.csrf = csrf;
    this.onState = onState;
    this.next = [0, 0];
    this.ws = null;
    this.audio = null;
    this.stopped = false;
  }

  start() {
    this.onState('connecting');
    this.audio = new AudioContext();
    this.mix = this.audio.createGain();
    this.mix.gain.value = 0.8;
    this.mix.connect(this.audio.destination);
    const url = `${location.origin.replace(/^http/, 'ws')}/console/api/calls/${encodeURIComponent(this.callSid)}/listen`;
    const ws = new WebSocket(url, [PROTOCOL, `csrf.${this.csrf}`]);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => this.onState('listening');
    ws.onmessage = (m) => {
      if (m.data instanceof ArrayBuffer) this.play(new Uint8Array(m.data));
    };
    ws.onclose = (e) => this.finish(e.reason || (e.code === 1006 ? 'refused or cut' : `closed (${e.code})`));
  }

  play(b) {
    if (b.length < 6 || b[0] !== 1 || !this.audio) return;
    const seq = (b[2] << 8) | b[3];
    const c = Math.min((b[4] << 8) | b[5], b.length - 6);
    this.channel(0, b.subarray(6, 6 + c), seq);
    this.channel(1, b.subarray(6 + c), seq);
  }

  /** One direction's μ-law for the interval, decoded and scheduled on its own timeline. */
  channel(channel, mu, seq) {
    const n = mu.length;
    if (n === 0) return;
    const buf = this.audio.createBuffer(1, n, RATE);
    const data = buf.getChannelData(0);
    for (let i = 0; i < n; i++) data[i] = MULAW[mu[i]];
    // For tests and tooling: each decoded chunk, as played (channel 0 the caller, 1 the agent side).
    window.dispatchEvent(new CustomEvent('console-listen-frame', { detail: { channel, seq, samples: data } }));
    const now = this.audio.currentTime;
    let at = this.next[channel];
    if (at < now) at = now + LEAD_S; // a gap (silence, a late batch): start again just ahead
    if (at - now > MAX_AHEAD_S) return; // behind real time: drop rather than drift
    const src = this.audio.createBufferSource();
    src.buffer = buf;
    src.connect(this.mix);
    src.start(at);
    this.next[channel] = at + n / RATE;
  }

  stop() {
    this.finish('stopped');
  }

  finish(why) {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ws && this.ws.readyState <= 1) this.ws.close(1000, 'stopped');
    void this.audio?.close();
    this.audio = null;
    this.onState('stopped', why);
  }
}
