import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileSecrets } from '../../../src/config/file-secrets.js';
import { ConfigError } from '../../../src/config/loader.js';

const dir = mkdtempSync(join(tmpdir(), 'opb-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('NAME_FILE secrets', () => {
  it('reads NAME from the file, dropping one trailing newline', () => {
    const env = {
      TWILIO_AUTH_TOKEN_FILE: file('twilio', 'tok-123\n'),
      ADMIN_TOKEN_FILE: file('admin', 'line1\nline2'),
      TOOL_CRM_KEY_FILE: file('crm', 'k\r\n'),
    };
    expect(fileSecrets(env)).toEqual({ TWILIO_AUTH_TOKEN: 'tok-123', ADMIN_TOKEN: 'line1\nline2', TOOL_CRM_KEY: 'k' });
  });

  it('refuses NAME and NAME_FILE both set, naming both', () => {
    expect(() => fileSecrets({ ADMIN_TOKEN: 'x', ADMIN_TOKEN_FILE: file('a2', 'y') })).toThrow(
      /ADMIN_TOKEN and ADMIN_TOKEN_FILE are both set/,
    );
  });

  it('refuses a missing, empty or oversized file, naming the variable and path and never the content', () => {
    const missing = join(dir, 'nope');
    expect(() => fileSecrets({ X_FILE: missing })).toThrow(ConfigError);
    expect(() => fileSecrets({ X_FILE: missing })).toThrow(`X_FILE: cannot read ${missing} (ENOENT)`);
    expect(() => fileSecrets({ X_FILE: file('empty', '\n') })).toThrow(/is empty; it should hold X/);
    const big = file('big', Buffer.alloc(70_000, 0x41));
    let msg = '';
    try {
      fileSecrets({ X_FILE: big });
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toMatch(/larger than 65536 bytes/);
    expect(msg).not.toContain('AAAA');
  });

  it('ignores an unset or empty NAME_FILE and a bare _FILE', () => {
    expect(fileSecrets({ A_FILE: '', _FILE: '/etc/passwd', B_FILE: undefined })).toEqual({});
  });
});
