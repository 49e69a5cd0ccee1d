import { describe, expect, it } from 'vitest';
import { loadSipEnv, SipEnvError } from '../../../src/config/sip-env.js';
import { sipConfigSchema } from '../../../src/config/sip-schema.js';
import { ConfigError, parseConfigText } from '../../../src/config/loader.js';

const trunk = {
  name: 'carrier',
  allow: ['203.0.113.0/24', '2001:db8::/32'],
  digest: { username: 'bridge', password_env: 'TOOL_SECRET_TRUNK_PASSWORD' },
  outbound_proxy: 'sip:proxy.example.com:5060;transport=tcp',
  transfer: 'invite',
};

const issues = (v: unknown) => {
  const r = sipConfigSchema.safeParse(v);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('sip: configuration schema', () => {
  it('accepts a full section and fills the defaults', () => {
    const cfg = sipConfigSchema.parse({
      trunks: [trunk, { name: 'pbx', allow: ['198.51.100.7'] }],
      default_agent: 'support',
    });
    expect(cfg.answer_wait_ms).toBe(5000);
    expect(cfg.trunks[1]!.transfer).toBe('refer');
    expect(cfg.trunks[0]).toEqual(trunk);
    expect(sipConfigSchema.parse({})).toEqual({ trunks: [], answer_wait_ms: 5000, media_timeout_s: 30 });
  });

  it('refuses unknown keys at every level', () => {
    expect(issues({ trunk: [] })).toHaveLength(1);
    expect(issues({ trunks: [{ ...trunk, alow: ['1.2.3.4'] }] })).toHaveLength(1);
    expect(issues({ trunks: [{ ...trunk, digest: { ...trunk.digest, password: 'x' } }] })).toHaveLength(1);
  });

  it('refuses bad CIDRs, an empty allow list, bad proxies, transfer modes and duplicate names', () => {
    expect(issues({ trunks: [{ ...trunk, allow: ['203.0.113.0/33'] }] })[0]).toMatch(/^trunks\.0\.allow\.0: /);
    expect(issues({ trunks: [{ ...trunk, allow: ['example.com'] }] })).toHaveLength(1);
    expect(issues({ trunks: [{ ...trunk, allow: [] }] })).toHaveLength(1);
    expect(issues({ trunks: [{ ...trunk, outbound_proxy: 'http://proxy' }] })).toHaveLength(1);
    expect(issues({ trunks: [{ ...trunk, transfer: 'bridge' }] })).toHaveLength(1);
    expect(issues({ trunks: [trunk, trunk] })).toEqual(['trunks.1.name: duplicate trunk name "carrier"']);
    expect(issues({ answer_wait_ms: 100 })).toHaveLength(1);
  });

  it('lets password_env name only a variable meant for the file, never a bridge secret', () => {
    const withEnv = (password_env: string) =>
      issues({ trunks: [{ ...trunk, digest: { username: 'u', password_env } }] });
    expect(withEnv('ADMIN_TOKEN')[0]).toMatch(/bridge's own secrets/);
    expect(withEnv('TRUNK_PASSWORD')[0]).toMatch(/TOOL_SECRET_/);
    expect(withEnv('TOOL_SECRET_X')).toEqual([]);
  });
});

describe('SIP environment', () => {
  it('is off without SIP_PORT', () => {
    expect(loadSipEnv({}, '0.0.0.0')).toBeUndefined();
    expect(loadSipEnv({ SIP_PORT: '' }, '0.0.0.0')).toBeUndefined();
  });

  it('reads port, host, public address and the RTP range with their defaults', () => {
    expect(loadSipEnv({ SIP_PORT: '5060' }, '127.0.0.1')).toEqual({
      port: 5060,
      host: '127.0.0.1',
      publicAddress: '127.0.0.1',
      rtpPortMin: 20000,
      rtpPortMax: 20999,
    });
    expect(
      loadSipEnv(
        {
          SIP_PORT: '5080',
          SIP_HOST: '0.0.0.0',
          SIP_PUBLIC_ADDRESS: '203.0.113.10',
          RTP_PORT_MIN: '30000',
          RTP_PORT_MAX: '30100',
        },
        '127.0.0.1',
      ),
    ).toEqual({ port: 5080, host: '0.0.0.0', publicAddress: '203.0.113.10', rtpPortMin: 30000, rtpPortMax: 30100 });
    expect(loadSipEnv({ SIP_PORT: '5060', SIP_HOST: 'localhost' }, '0.0.0.0')?.host).toBe('127.0.0.1');
  });

  it('refuses bad values with a message naming the variable', () => {
    const bad: [NodeJS.ProcessEnv, RegExp][] = [
      [{ SIP_PORT: 'x' }, /SIP_PORT/],
      [{ SIP_PORT: '70000' }, /SIP_PORT/],
      [{ SIP_PORT: '5060', SIP_HOST: 'sip.example.com' }, /SIP_HOST/],
      [{ SIP_PORT: '5060', SIP_HOST: '0.0.0.0' }, /SIP_PUBLIC_ADDRESS must be set/],
      [{ SIP_PORT: '5060', SIP_PUBLIC_ADDRESS: 'bridge.example.com' }, /SIP_PUBLIC_ADDRESS/],
      [{ SIP_PORT: '5060', RTP_PORT_MIN: '100' }, /RTP_PORT_MIN/],
      [{ SIP_PORT: '5060', RTP_PORT_MIN: '30001', RTP_PORT_MAX: '30001' }, /RTP_PORT_MIN\.\.RTP_PORT_MAX/],
      [{ SIP_PORT: '5060', RTP_PORT_MIN: '30001', RTP_PORT_MAX: '30002' }, /RTP_PORT_MIN\.\.RTP_PORT_MAX/],
    ];
    for (const [env, msg] of bad) {
      expect(() => loadSipEnv(env, '127.0.0.1')).toThrow(SipEnvError);
      expect(() => loadSipEnv(env, '127.0.0.1')).toThrow(msg);
    }
    expect(
      loadSipEnv({ SIP_PORT: '5060', RTP_PORT_MIN: '30001', RTP_PORT_MAX: '30003' }, '127.0.0.1')?.rtpPortMin,
    ).toBe(30001);
  });
});

describe('sip: in the configuration file', () => {
  const file = (sip: string) => `
default_agent: a
agents:
  - id: a
    persona: You help.
bridge: {}
${sip}
`;
  const errorOf = (text: string): string => {
    try {
      parseConfigText(text, 'sip.yaml');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('the configuration was accepted');
  };

  it('is optional, and read with its defaults when present', () => {
    expect(parseConfigText(file(''), 'sip.yaml').sip).toBeUndefined();
    const cfg = parseConfigText(
      file('sip:\n  default_agent: a\n  trunks:\n    - { name: pbx, allow: ["127.0.0.1/32"] }'),
      'sip.yaml',
    );
    expect(cfg.sip?.answer_wait_ms).toBe(5000);
    expect(cfg.sip?.trunks[0]?.transfer).toBe('refer');
  });

  it('refuses unknown keys, an unknown default agent and a bridge secret as password_env', () => {
    expect(errorOf(file('sip:\n  trunk: []'))).toMatch(/sip\.trunk/);
    expect(errorOf(file('sip:\n  default_agent: b'))).toMatch(/sip\.default_agent: no agent has id "b"/);
    expect(
      errorOf(
        file(
          'sip:\n  trunks:\n    - name: t\n      allow: ["127.0.0.1"]\n      digest: { username: u, password_env: ADMIN_TOKEN }',
        ),
      ),
    ).toMatch(/password_env/);
  });
});
