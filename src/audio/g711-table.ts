/**
 * The table-driven shape both G.711 laws share: a 256-entry decode table and a 65536-entry encode
 * table indexed by the raw 16-bit sample (one load per sample, no shifting or sign handling), built
 * once at module load from a law's one-sample rules.
 */

export interface G711Tables {
  readonly decode: (src: Uint8Array, dst?: Int16Array) => Int16Array;
  readonly encode: (src: Int16Array, dst?: Uint8Array) => Uint8Array;
}

export function g711Tables(
  law: string,
  encodeOne: (sample: number) => number,
  decodeOne: (byte: number) => number,
): G711Tables {
  const DECODE = new Int16Array(256);
  for (let i = 0; i < 256; i++) DECODE[i] = decodeOne(i);
  /** Indexed by the sample's 16 bits as unsigned (sample & 0xffff). */
  const ENCODE = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) ENCODE[i] = encodeOne(i >= 32768 ? i - 65536 : i);
  return {
    decode(src, dst) {
      const n = src.length;
      const out = dst ?? new Int16Array(n);
      if (out.length < n) throw new RangeError(`decode${law}: dst holds ${out.length} samples, need ${n}`);
      for (let i = 0; i < n; i++) out[i] = DECODE[src[i] as number] as number; // a byte indexes the 256-entry table
      return out;
    },
    encode(src, dst) {
      const n = src.length;
      const out = dst ?? new Uint8Array(n);
      if (out.length < n) throw new RangeError(`encode${law}: dst holds ${out.length} bytes, need ${n}`);
      for (let i = 0; i < n; i++) out[i] = ENCODE[(src[i] as number) & 0xffff] as number; // 16 bits index the 65,536-entry table
      return out;
    },
  };
}
