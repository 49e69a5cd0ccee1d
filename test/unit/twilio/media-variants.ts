/** Media messages for the fast-path tests: the canonical one and thousands of mutated ones. */

export const SID = 'MZ0123456789abcdef0123456789abcdef';
export const PAYLOAD = Buffer.alloc(160, 0x7f).toString('base64');

export const base = () => ({
  event: 'media',
  sequenceNumber: '2',
  streamSid: SID,
  media: { track: 'inbound', chunk: '1', timestamp: '20', payload: PAYLOAD },
});

const MISSING = Symbol('missing');
export const odd: unknown[] = [
  MISSING,
  null,
  0,
  12,
  -1,
  1.5,
  true,
  [],
  ['1'],
  {},
  '',
  ' ',
  '1',
  '01',
  '+1',
  '-1',
  '1e3',
  ' 1',
  '1 ',
  '１',
  '123456789012345',
  '1234567890123456',
  'a',
  'inbound',
  'outbound',
  SID,
  'MZ-x_y',
  'MZ x',
  'MZ"x',
  'MZ\\x',
  'é',
  'x'.repeat(64),
  'x'.repeat(65),
  PAYLOAD,
  'AAA=',
  'AAA=A',
  'AA==',
  'A===',
  'A',
  '====',
  'not base64!',
  '////',
  '++++',
];

export function variants(): unknown[] {
  const out: unknown[] = [base()];
  const set = (obj: Record<string, unknown>, key: string, v: unknown) => {
    if (v === MISSING) delete obj[key];
    else obj[key] = v;
  };
  for (const key of ['sequenceNumber', 'streamSid', 'media']) {
    for (const v of odd) {
      const m = base() as Record<string, unknown>;
      set(m, key, v);
      out.push(m);
    }
  }
  for (const key of ['track', 'chunk', 'timestamp', 'payload']) {
    for (const v of odd) {
      const m = base();
      set(m.media, key, v);
      out.push(m);
    }
  }
  // extra fields are tolerated by both and dropped from the result
  out.push({ ...base(), extra: 1 }, { ...base(), media: { ...base().media, extra: 'x' } });
  // a deterministic mix of two odd fields at once
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const keys = ['sequenceNumber', 'streamSid', 'track', 'chunk', 'timestamp', 'payload'];
  for (let i = 0; i < 2000; i++) {
    const m = base();
    for (let k = 0; k < 2; k++) {
      const key = keys[rnd(keys.length)]!;
      const target =
        key === 'sequenceNumber' || key === 'streamSid'
          ? (m as Record<string, unknown>)
          : (m.media as Record<string, unknown>);
      set(target, key, odd[rnd(odd.length)]);
    }
    out.push(m);
  }
  return out;
}
