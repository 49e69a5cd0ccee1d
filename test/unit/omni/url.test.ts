import { describe, expect, it } from 'vitest';
import { buildOmniUrl, redactUrl, sanitizeSessionLabel } from '../../../src/omni/url.js';
import { classifyClose } from '../../../src/omni/close-policy.js';

describe('buildOmniUrl', () => {
  it('uses the default base when none is given', () => {
    expect(buildOmniUrl('', 24000)).toBe('wss://api.pyai.com/v1/omni?format=pcm16&rate=24000');
  });

  it('turns http(s) into ws(s) and keeps ws(s)', () => {
    expect(buildOmniUrl('https://omni.example.com', 16000)).toBe(
      'wss://omni.example.com/v1/omni?format=pcm16&rate=16000',
    );
    expect(buildOmniUrl('http://127.0.0.1:9000', 8000)).toBe('ws://127.0.0.1:9000/v1/omni?format=pcm16&rate=8000');
    expect(buildOmniUrl('ws://localhost:1/', 8000)).toBe('ws://localhost:1/v1/omni?format=pcm16&rate=8000');
  });

  it('keeps a path prefix and does not double /v1/omni', () => {
    expect(buildOmniUrl('https://gw.example.com/pyai/', 24000)).toBe(
      'wss://gw.example.com/pyai/v1/omni?format=pcm16&rate=24000',
    );
    expect(buildOmniUrl('wss://x.example/v1/omni', 24000)).toBe('wss://x.example/v1/omni?format=pcm16&rate=24000');
  });

  it('adds a sanitised session label', () => {
    const url = new URL(buildOmniUrl('wss://x.example', 24000, '  call-CA123\u0000\n '));
    expect(url.searchParams.get('session_label')).toBe('call-CA123');
    expect(new URL(buildOmniUrl('wss://x.example', 24000, 'a b&c=d')).searchParams.get('session_label')).toBe(
      'a b&c=d',
    );
    expect(buildOmniUrl('wss://x.example', 24000, '\u0007')).not.toContain('session_label');
  });

  it('cuts labels to 256 characters without splitting a surrogate pair', () => {
    expect(sanitizeSessionLabel('x'.repeat(300))).toHaveLength(256);
    const emoji = 'x'.repeat(255) + '😀';
    expect(sanitizeSessionLabel(emoji)).toBe('x'.repeat(255));
    expect(sanitizeSessionLabel('a\u0085b\u007fc')).toBe('abc');
  });

  it('refuses bases that are not URLs or use another scheme, without echoing them', () => {
    expect(() => buildOmniUrl('not a url secret123', 24000)).toThrow(/not an absolute URL/);
    try {
      buildOmniUrl('ftp://secret123@host', 24000);
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('secret123');
    }
    expect(() => buildOmniUrl('wss://x', 44100 as 24000)).toThrow(/rate/);
  });
});

describe('redactUrl', () => {
  it('masks secret query values and userinfo', () => {
    const out = redactUrl('wss://user:pw@h.example/v1/omni?rate=8000&api_key=sk-abc&session_label=x');
    expect(out).not.toContain('sk-abc');
    expect(out).not.toContain('pw@');
    expect(out).toContain('rate=8000');
    expect(out).toContain('session_label=x');
  });

  it('never throws', () => {
    expect(redactUrl('::nope')).toBe('[invalid url]');
  });
});

describe('classifyClose', () => {
  it('maps close codes to the retry policy', () => {
    expect(classifyClose(1000)).toBe('normal');
    for (const c of [1008, 4401, 4403]) expect(classifyClose(c)).toBe('fatal');
    for (const c of [4429, 1011, 1006, 1001, 4000, 1005]) expect(classifyClose(c)).toBe('retryable');
  });
});
