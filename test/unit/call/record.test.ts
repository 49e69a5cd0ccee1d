import { describe, expect, it } from 'vitest';
import { redactNumbers } from '../../../src/observability/redact.js';

describe('call record transcript redaction', () => {
  it('masks card and account numbers, typed or spoken', () => {
    expect(redactNumbers('my card is 4111 1111 1111 1111 thanks')).toBe('my card is [redacted] thanks');
    expect(redactNumbers('account four eight two nine one three please')).toBe('account [redacted] please');
    expect(redactNumbers('ref 482-913-77')).toBe('ref [redacted]');
  });

  it('keeps short numbers such as order ids and times', () => {
    expect(redactNumbers('order 4417 arrives at 10:30')).toBe('order 4417 arrives at 10:30');
  });
});
