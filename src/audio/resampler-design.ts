/**
 * Polyphase low-pass design for the streaming resampler (Kaiser-windowed sinc).
 *
 * The ratio is reduced to up/down = L/M; one prototype low-pass runs at the virtual rate inRate·L
 * and is split into L phases of `taps` coefficients each. Cutoff is the lower of the two Nyquist
 * frequencies; the transition band spans ±15 % around it, so with a telephone (8 kHz) side the
 * passband reaches 3.4 kHz and the stopband starts at 4.6 kHz: anything above 4.6 kHz can only
 * alias onto the unused 3.4–4 kHz edge. Stopband attenuation and passband ripple: 80 dB ('high',
 * ~85 dB SINAD) or 65 dB ('medium': about 3/4 of the taps, ~70 dB SINAD).
 */

export type ResamplerQuality = 'high' | 'medium';

export interface PolyphaseDesign {
  readonly up: number;
  readonly down: number;
  /** coefficients per phase, a multiple of 4 (SIMD width); padding sits on the oldest side */
  readonly taps: number;
  /**
   * Phase p occupies [p·taps, (p+1)·taps), oldest input first, so an output is a forward dot
   * product over the `taps` newest inputs. Scaled for unity passband gain.
   */
  readonly coef: Float32Array;
  /** group delay in samples of the virtual rate inRate·up */
  readonly centre: number;
}

/** Largest polyphase table built (coefficients); beyond it the ratio is refused, not tabulated. */
const MAX_TABLE = 1 << 20;

export function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Zeroth-order modified Bessel function of the first kind (power series; converges fast). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 500; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function kaiserBeta(attenuation: number): number {
  if (attenuation > 50) return 0.1102 * (attenuation - 8.7);
  if (attenuation >= 21) return 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21);
  return 0;
}

export function designPolyphase(inRate: number, outRate: number, quality: ResamplerQuality): PolyphaseDesign {
  const g = gcd(inRate, outRate);
  const up = outRate / g;
  const down = inRate / g;
  const attenuation = quality === 'high' ? 80 : 65;
  const halfWidth = 0.15;
  const virtualRate = inRate * up;
  const cutoff = Math.min(inRate, outRate) / 2;
  const transition = 2 * halfWidth * cutoff;
  // Kaiser's length estimate: N − 1 = (A − 7.95) / (14.36 · Δf / fs).
  let half = Math.ceil((attenuation - 7.95) / (14.36 * (transition / virtualRate)) / 2);
  // Centre the filter on a whole output sample when that costs little: the group delay is then
  // an integer number of output samples, which makes alignment trivial for callers.
  if (down <= half / 4) half = Math.ceil(half / down) * down;
  const length = 2 * half + 1;
  const taps = Math.ceil(Math.ceil(length / up) / 4) * 4;
  if (taps * up > MAX_TABLE) {
    throw new RangeError(
      `StreamResampler: ${inRate}→${outRate} Hz reduces to ${up}/${down}, too fine a ratio to tabulate`,
    );
  }
  const beta = kaiserBeta(attenuation);
  const i0Beta = besselI0(beta);
  const fc = cutoff / virtualRate; // cycles per virtual sample
  const h = new Float64Array(taps * up); // zero beyond `length`
  let sum = 0;
  for (let j = 0; j < length; j++) {
    const t = j - half;
    const r = t / half;
    const window = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
    const x = 2 * fc * t;
    const sinc = t === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    h[j] = 2 * fc * sinc * window;
    sum += h[j] as number;
  }
  // Zero-stuffing by L divides the level by L; the taps of all phases together sum to L, so
  // every phase has (close to) unity gain at DC.
  const gain = up / sum;
  const coef = new Float32Array(taps * up);
  for (let p = 0; p < up; p++) {
    // Tap k of phase p weighs the input k samples before the newest one.
    for (let k = 0; k < taps; k++) coef[p * taps + (taps - 1 - k)] = (h[p + k * up] as number) * gain;
  }
  return { up, down, taps, coef, centre: half };
}
