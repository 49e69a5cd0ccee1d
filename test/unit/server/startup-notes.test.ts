import { describe, expect, it } from 'vitest';
import { publicEndpoints, restMissingWarning } from '../../../src/server/startup-notes.js';

describe('the REST credentials warning names what is missing', () => {
  it('only TWILIO_ACCOUNT_SID missing: the warning names it alone', () => {
    const w = restMissingWarning({ twilioAuthToken: 'x'.repeat(32) });
    expect(w).toMatch(/^TWILIO_ACCOUNT_SID is not set/);
    expect(w).not.toContain('TWILIO_AUTH_TOKEN');
  });

  it('only the auth token missing: the warning names it alone', () => {
    const w = restMissingWarning({ twilioAccountSid: `AC${'0'.repeat(32)}` });
    expect(w).toMatch(/^TWILIO_AUTH_TOKEN is not set/);
    expect(w).not.toContain('TWILIO_ACCOUNT_SID');
  });

  it('both missing: both are named', () => {
    expect(restMissingWarning({})).toMatch(/^TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set/);
  });
});

describe('the URLs start-up prints', () => {
  it('are the two webhooks under PUBLIC_URL, and the console only with ADMIN_TOKEN', () => {
    expect(publicEndpoints({ publicUrl: 'https://bridge.example.com' })).toEqual({
      voiceWebhook: 'https://bridge.example.com/twilio/voice',
      statusCallback: 'https://bridge.example.com/twilio/status',
    });
    expect(publicEndpoints({ publicUrl: 'https://b.example.com', adminToken: 't' }).console).toBe(
      'https://b.example.com/console',
    );
  });
});
