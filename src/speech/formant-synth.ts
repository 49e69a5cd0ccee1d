/**
 * Stand-in voice when Flite cannot run: a glottal pulse train through two vowel formant resonators,
 * one syllable-like burst per word, with pauses at punctuation. Not words, but speech-shaped audio
 * (pitch, formants, rhythm) so that VADs, resamplers and barge-in behave as they would on speech.
 */

const RATE = 16000;
/** F1/F2 pairs of a few vowels (Hz): each word gets one by its letters, so sentences vary. */
const VOWELS: [number, number][] = [
  [730, 1090],
  [270, 2290],
  [530, 1840],
  [570, 840],
  [300, 870],
  [660, 1720],
  [490, 1350],
];

/** Two-pole resonator coefficients for centre `f` and bandwidth `bw`. */
function resonator(f: number, bw: number): [number, number, number] {
  const r = Math.exp((-Math.PI * bw) / RATE);
  const a1 = 2 * r * Math.cos((2 * Math.PI * f) / RATE);
  const a2 = -r * r;
  return [1 - r, a1, a2];
}

export function formantSynthesize(text: string): { samples: Int16Array; rate: number } {
  const tokens = text.split(/(\s+|[.,;:!?]+)/).filter((t) => t.trim() !== '');
  const pieces: { ms: number; vowel?: [number, number] }[] = [];
  for (const t of tokens) {
    if (/^[.,;:!?]+$/.test(t)) {
      pieces.push({ ms: /[.!?]/.test(t) ? 300 : 150 });
      continue;
    }
    let h = 0;
    for (let i = 0; i < t.length; i++) h = (h * 31 + t.charCodeAt(i)) >>> 0;
    pieces.push({ ms: Math.min(450, Math.max(140, t.length * 65)), vowel: VOWELS[h % VOWELS.length] });
    pieces.push({ ms: 50 });
  }
  const total = pieces.reduce((n, p) => n + Math.round((p.ms * RATE) / 1000), 0);
  const out = new Int16Array(total);
  let at = 0;
  let phase = 0;
  let wordIndex = 0;
  for (const p of pieces) {
    const n = Math.round((p.ms * RATE) / 1000);
    if (p.vowel) {
      const [g1, b1, c1] = resonator(p.vowel[0], 90);
      const [g2, b2, c2] = resonator(p.vowel[1], 120);
      let y1a = 0;
      let y1b = 0;
      let y2a = 0;
      let y2b = 0;
      // Declining pitch over the sentence, a little rise and fall inside each word.
      const f0Base = Math.max(95, 135 - wordIndex++ * 2);
      for (let i = 0; i < n; i++) {
        const f0 = f0Base * (1 + 0.06 * Math.sin((Math.PI * i) / n));
        phase += f0 / RATE;
        const pulse = phase >= 1 ? 1 : 0;
        if (phase >= 1) phase -= 1;
        const y1 = g1 * pulse * 40 + b1 * y1a + c1 * y1b;
        y1b = y1a;
        y1a = y1;
        const y2 = g2 * pulse * 30 + b2 * y2a + c2 * y2b;
        y2b = y2a;
        y2a = y2;
        const env = Math.min(1, i / (0.02 * RATE), (n - i) / (0.03 * RATE));
        const v = (y1 + 0.6 * y2) * env * 2000;
        out[at + i] = v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
      }
    }
    at += n;
  }
  return { samples: out, rate: RATE };
}
