import { decodeMulaw, encodeMulaw } from '../src/audio/mulaw.js';
import { StreamResampler } from '../src/audio/resampler.js';
function timeIt(name: string, fn: (k: number) => void) {
  for (let k = 0; k < 3000; k++) fn(k);
  const N = 100000; const t0 = process.hrtime.bigint(); for (let k = 0; k < N; k++) fn(k);
  console.log(name, (Number(process.hrtime.bigint() - t0) / 1000 / N).toFixed(2));
}
const speech = new Int16Array(8000).map((_, i) => Math.round(6000 * Math.sin(i * 0.3)));
const messages: string[] = [];
for (let k = 0; k < 50; k++) {
  const payload = Buffer.from(encodeMulaw(speech.subarray(k * 160, k * 160 + 160))).toString('base64');
  messages.push(JSON.stringify({ event: 'media', sequenceNumber: String(k + 2), streamSid: 'MZ' + 'a1b2c3d4'.repeat(4), media: { track: 'inbound', chunk: String(k + 1), timestamp: String(k * 20), payload } }));
}
const pcm8 = new Int16Array(160);
const r = new StreamResampler(8000, 24000);
let sink = 0;
const payloads = messages.map((m) => JSON.parse(m).media.payload as string);
const bufs = payloads.map((p) => Buffer.from(p, 'base64'));
timeIt('parse', (k) => { sink += JSON.parse(messages[k % 50]).media.payload.length; });
timeIt('b64', (k) => { sink += Buffer.from(payloads[k % 50], 'base64').length; });
timeIt('mulaw', (k) => { decodeMulaw(bufs[k % 50], pcm8); });
timeIt('resample', (k) => { sink += r.process(pcm8).length; });
const y = r.process(pcm8);
timeIt('frame', (k) => { const out = Buffer.allocUnsafe(1 + y.byteLength); out[0] = 1; out.set(new Uint8Array(y.buffer, y.byteOffset, y.byteLength), 1); sink += out.length; });
timeIt('all', (k) => {
  const msg = JSON.parse(messages[k % 50]);
  const bytes = Buffer.from(msg.media.payload, 'base64');
  decodeMulaw(bytes, pcm8);
  const y = r.process(pcm8);
  const out = Buffer.allocUnsafe(1 + y.byteLength); out[0] = 1; out.set(new Uint8Array(y.buffer, y.byteOffset, y.byteLength), 1); sink += out.length;
});
console.log(sink > 0);
