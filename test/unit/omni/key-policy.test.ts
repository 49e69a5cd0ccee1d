import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../../../src/config/loader.js';
import { omniKeyAllowed, omniKeyFor } from '../../../src/omni/key-policy.js';

const KEY = 'pyai-key-0123456789';
const prod = { baseUrl: 'wss://api.pyai.com', apiKey: KEY };

describe('where the Omni key may go', () => {
  it("goes to PYAI_BASE_URL's host over wss:// (https:// maps to it), whatever the path", () => {
    for (const url of ['wss://api.pyai.com', 'wss://API.pyai.com/v1/omni?x=1', 'https://api.pyai.com/proxy']) {
      expect(omniKeyFor(url, prod), url).toBe(KEY);
    }
  });

  it('never goes to another host, another port, plain ws:// or a look-alike name', () => {
    for (const url of [
      'ws://anywhere.example.com',
      'wss://anywhere.example.com',
      'ws://api.pyai.com', // the right host, in clear
      'http://api.pyai.com',
      'wss://api.pyai.com:8443',
      'wss://api.pyai.com.evil.example',
      'wss://api.pyai.com@evil.example', // userinfo: the host is evil.example
      'wss://evil.example/?host=api.pyai.com',
      'not a url',
      'ftp://api.pyai.com',
    ]) {
      expect(omniKeyFor(url, prod), url).toBeUndefined();
    }
  });

  it('goes to PYAI_KEY_HOSTS over wss:// only', () => {
    const src = { ...prod, keyHosts: ['eu.engine.example.com', 'lab.example.com:8443'] };
    expect(omniKeyFor('wss://eu.engine.example.com/v1/omni', src)).toBe(KEY);
    expect(omniKeyFor('wss://lab.example.com:8443', src)).toBe(KEY);
    expect(omniKeyFor('wss://lab.example.com', src)).toBeUndefined();
    expect(omniKeyFor('ws://eu.engine.example.com', src)).toBeUndefined();
  });

  it('goes over ws:// only to the loopback engine the deployment names (it never leaves the machine)', () => {
    const local = { baseUrl: 'ws://127.0.0.1:8090', apiKey: KEY };
    expect(omniKeyFor('ws://127.0.0.1:8090/v1/omni', local)).toBe(KEY);
    // loopback, but not the allow-listed host:port: a config-named local listener gets no key
    expect(omniKeyFor('ws://127.0.0.1:9999', local)).toBeUndefined();
    expect(omniKeyFor('ws://localhost:8090', local)).toBeUndefined();
    // a non-loopback host on the list still needs wss://
    expect(omniKeyAllowed('ws://engine.internal:8090', { baseUrl: 'ws://engine.internal:8090' })).toBe(false);
  });

  it('sends nothing when no key is configured', () => {
    expect(omniKeyFor('wss://api.pyai.com', { baseUrl: 'wss://api.pyai.com' })).toBeUndefined();
  });
});

describe('PYAI_BASE_URL and PYAI_KEY_HOSTS at start-up', () => {
  it('refuses a key bound for a plain ws:// engine off this machine, and takes a loopback one', () => {
    expect(() => loadEnv({ PYAI_API_KEY: KEY, PYAI_BASE_URL: 'ws://engine.example.com:8090' })).toThrow(
      /^PYAI_BASE_URL must be wss:\/\/ \(or https:\/\/\) when PYAI_API_KEY is set/,
    );
    expect(() => loadEnv({ PYAI_API_KEY: KEY, PYAI_BASE_URL: 'http://engine.example.com' })).toThrow(ConfigError);
    expect(loadEnv({ PYAI_API_KEY: KEY, PYAI_BASE_URL: 'ws://127.0.0.1:8090' }).pyaiBaseUrl).toBe(
      'ws://127.0.0.1:8090',
    );
    // without a key there is nothing to protect: a keyless self-hosted engine
    expect(loadEnv({ PYAI_BASE_URL: 'ws://engine.example.com:8090' }).pyaiApiKey).toBeUndefined();
  });

  it('reads PYAI_KEY_HOSTS as a list of host[:port], refusing anything else', () => {
    expect(loadEnv({ PYAI_KEY_HOSTS: ' EU.engine.example.com , lab.example.com:8443,' }).pyaiKeyHosts).toEqual([
      'eu.engine.example.com',
      'lab.example.com:8443',
    ]);
    expect(loadEnv({}).pyaiKeyHosts).toEqual([]);
    for (const bad of ['wss://x.example.com', 'x.example.com/path', 'user@x.example.com'])
      expect(() => loadEnv({ PYAI_KEY_HOSTS: bad }), bad).toThrow(/^PYAI_KEY_HOSTS is a comma-separated list/);
  });
});
