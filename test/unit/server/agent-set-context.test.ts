import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { checkSecretLengths, collectSecrets, loadEnv, parseConfigText } from '../../../src/config/loader.js';
import { loadAgentSet } from '../../../src/server/agent-set.js';

const file = parseConfigText(
  JSON.stringify({
    default_agent: 'a',
    agents: [
      {
        id: 'a',
        persona: 'p',
        transfer: {
          targets: [{ name: 'desk', kind: 'number', value: '+15550100200' }],
          context_webhook: { url: 'https://desk.example.com/context', signing_secret_env: 'TOOL_SECRET_DESK' },
        },
      },
    ],
  }),
);
const opts = (env: NodeJS.ProcessEnv) => ({ baseDir: '.', env, allowHosts: [], logger: pino({ level: 'silent' }) });

describe('an agent with a transfer context webhook', () => {
  it('does not start without its signing secret, and the error names the variable, never a value', async () => {
    await expect(loadAgentSet(file, opts({}))).rejects.toThrow(
      'agent "a": transfer.context_webhook: environment variable TOOL_SECRET_DESK (signing secret) is not set',
    );
  });

  it('starts with it', async () => {
    const set = await loadAgentSet(file, opts({ TOOL_SECRET_DESK: 'a-long-enough-secret-value' }));
    expect(set.agents.get('a')!.transfer.context_webhook!.timeout_ms).toBe(2000);
  });
});

describe("the context webhook's signing secret is one of the bridge's own", () => {
  const loaded = (publicUrl: string) => ({
    file,
    env: loadEnv({ PUBLIC_URL: publicUrl }),
    baseDir: '.',
  });

  it('is scrubbed from the logs', () => {
    expect(
      collectSecrets(loaded('https://bridge.example.com'), { TOOL_SECRET_DESK: 'desk-secret-0123456789' }),
    ).toContain('desk-secret-0123456789');
  });

  it('must be 16 characters or more on a public URL; the error names the variable, not the value', () => {
    const check = () => checkSecretLengths(loaded('https://bridge.example.com'), { TOOL_SECRET_DESK: 'short-1' });
    expect(check).toThrow(/TOOL_SECRET_DESK is too short: at least 16 characters/);
    expect(check).not.toThrow(/short-1/);
  });
});
