import { describe, expect, it } from 'vitest';
import { QuietLog, retryAfterSeconds, SourceBackoff } from '../../../src/server/security/source-backoff.js';

describe('per-source backoff of refused credentials', () => {
  it('lets a source fail five times, then makes it wait, doubling with each further refusal', () => {
    let now = 0;
    const b = new SourceBackoff({ free: 5, baseMs: 1000, maxMs: 8000 }, () => now);
    for (let i = 0; i < 5; i++) expect(b.refused('1.2.3.4')).toBe(0);
    expect(b.waitMs('1.2.3.4')).toBe(0);
    expect(b.refused('1.2.3.4')).toBe(1000);
    expect(b.refused('1.2.3.4')).toBe(2000);
    expect(b.refused('1.2.3.4')).toBe(4000);
    expect(b.refused('1.2.3.4')).toBe(8000);
    expect(b.refused('1.2.3.4')).toBe(8000); // capped
    now = 3000;
    expect(b.waitMs('1.2.3.4')).toBe(5000);
  });

  it('never slows one source for the refusals of others', () => {
    const b = new SourceBackoff({ free: 5 }, () => 0);
    for (let s = 0; s < 6; s++) for (let i = 0; i < 100; i++) b.refused(`10.0.0.${s}`);
    expect(b.waitMs('10.0.0.0')).toBeGreaterThan(0);
    expect(b.waitMs('10.0.0.9')).toBe(0);
    expect(b.refused('10.0.0.9')).toBe(0);
  });

  it('forgets a source some time after its last refusal', () => {
    let now = 0;
    const b = new SourceBackoff({ free: 1, forgetMs: 60_000, maxMs: 1000 }, () => now);
    b.refused('a');
    expect(b.refused('a')).toBe(1000);
    now = 61_001;
    expect(b.waitMs('a')).toBe(0);
    expect(b.refused('a')).toBe(0); // counted from scratch
  });

  it('keeps its table bounded under a spray from many addresses, dropping the oldest first', () => {
    const b = new SourceBackoff({ free: 0, maxEntries: 100 }, () => 0);
    for (let i = 0; i < 1000; i++) b.refused(`ip${i}`);
    expect(b.size).toBe(100);
    expect(b.waitMs('ip999')).toBeGreaterThan(0);
    expect(b.waitMs('ip0')).toBe(0);
  });

  it('answers Retry-After in whole seconds, at least 1', () => {
    expect(retryAfterSeconds(1)).toBe('1');
    expect(retryAfterSeconds(1000)).toBe('1');
    expect(retryAfterSeconds(1001)).toBe('2');
  });

  it('logs one line per interval and says how many it left out', () => {
    let now = 0;
    const lines: Record<string, unknown>[] = [];
    const log = new QuietLog(
      (f) => lines.push(f),
      10_000,
      () => now,
    );
    for (let i = 0; i < 50; i++) log.note({ ip: 'x' });
    now = 10_000;
    log.note({ ip: 'y' });
    expect(lines).toEqual([
      { ip: 'x', suppressed: 0 },
      { ip: 'y', suppressed: 49 },
    ]);
  });

  it('with a window: more than `free` refusals in it wait for the rest of the window, then the count starts again', () => {
    let now = 0;
    const b = new SourceBackoff({ free: 30, windowMs: 60_000, forgetMs: 60_000 }, () => now);
    for (let i = 0; i < 30; i++) expect(b.refused('a')).toBe(0);
    now = 20_000;
    expect(b.refused('a')).toBe(40_000);
    expect(b.refused('b')).toBe(0);
    now = 59_999;
    expect(b.waitMs('a')).toBe(1);
    now = 60_000;
    expect(b.waitMs('a')).toBe(0);
    expect(b.refused('a')).toBe(0);
    // a slow trickle never adds up across windows
    for (let i = 0; i < 100; i++) {
      now += 50_000;
      expect(b.refused('c')).toBe(0);
    }
  });
});
