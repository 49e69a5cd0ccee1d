import { describe, expect, it } from 'vitest';
import {
  TwimlError,
  connectStreamTwiml,
  dialTwiml,
  enqueueTwiml,
  gatherTwiml,
  hangupTwiml,
  playDigitsThenStreamTwiml,
  sayTwiml,
} from '../../../src/twilio/twiml.js';
import { parseTwiml, type TwimlNode } from '../../../src/sim/twilio/twiml-parser.js';

const URL_ = 'wss://bridge.example.com/twilio/media';
const names = (n: TwimlNode) => n.children.map((c) => c.name);

describe('connectStreamTwiml', () => {
  it('emits Connect/Stream with escaped Parameters and the after verb', () => {
    const xml = connectStreamTwiml({
      streamUrl: URL_,
      parameters: { agent: 'support', from: '+1555<&>"' },
      after: 'hangup',
    });
    const r = parseTwiml(xml);
    expect(names(r)).toEqual(['Connect', 'Hangup']);
    const stream = r.children[0]!.children[0]!;
    expect(stream.name).toBe('Stream');
    expect(stream.attrs).toEqual({ url: URL_ });
    expect(stream.children.map((p) => [p.name, p.attrs])).toEqual([
      ['Parameter', { name: 'agent', value: 'support' }],
      ['Parameter', { name: 'from', value: '+1555<&>"' }],
    ]);
  });

  it('supports dial / say / redirect after the stream and a statusCallback', () => {
    const dial = parseTwiml(connectStreamTwiml({ streamUrl: URL_, parameters: {}, after: { dial: '+15550001111' } }));
    expect(dial.children[1]!.children[0]).toMatchObject({ name: 'Number', text: '+15550001111' });
    const sip = parseTwiml(
      connectStreamTwiml({ streamUrl: URL_, parameters: {}, after: { dial: 'sip:agent@pbx.example.com' } }),
    );
    expect(sip.children[1]!.children[0]!.name).toBe('Sip');
    const say = parseTwiml(connectStreamTwiml({ streamUrl: URL_, parameters: {}, after: { say: 'Bye' } }));
    expect(say.children[1]).toMatchObject({ name: 'Say', text: 'Bye' });
    const red = parseTwiml(
      connectStreamTwiml({
        streamUrl: URL_,
        parameters: {},
        after: { redirect: 'https://x.example/next' },
        statusCallback: 'https://x.example/s',
      }),
    );
    expect(red.children[1]).toMatchObject({ name: 'Redirect', text: 'https://x.example/next' });
    expect(red.children[0]!.children[0]!.attrs.statusCallback).toBe('https://x.example/s');
  });

  it('refuses non-wss URLs, query strings and parameters of 500+ characters', () => {
    expect(() => connectStreamTwiml({ streamUrl: 'https://x.example/m', parameters: {} })).toThrow(TwimlError);
    expect(() => connectStreamTwiml({ streamUrl: `${URL_}?a=1`, parameters: {} })).toThrow(/query string/);
    expect(() => connectStreamTwiml({ streamUrl: URL_, parameters: { a: 'x'.repeat(500) } })).toThrow(/under 500/);
    expect(() => connectStreamTwiml({ streamUrl: URL_, parameters: { ['n'.repeat(500)]: 'x' } })).toThrow(TwimlError);
    expect(() => connectStreamTwiml({ streamUrl: URL_, parameters: { a: 'x'.repeat(499) } })).not.toThrow();
  });
});

describe('dialTwiml', () => {
  it('puts the attributes on <Dial> and one noun inside', () => {
    const xml = dialTwiml({
      target: { kind: 'number', value: '+15550001111' },
      callerId: '+15557654321',
      timeout: 20,
      answerOnBridge: true,
      action: 'https://bridge.example.com/twilio/dial-action?agent=a&target=b',
      beforeSay: 'Connecting you',
    });
    const r = parseTwiml(xml);
    expect(names(r)).toEqual(['Say', 'Dial']);
    const dial = r.children[1]!;
    expect(dial.attrs).toEqual({
      callerId: '+15557654321',
      timeout: '20',
      answerOnBridge: 'true',
      action: 'https://bridge.example.com/twilio/dial-action?agent=a&target=b',
    });
    expect(dial.children).toHaveLength(1);
    expect(dial.children[0]).toMatchObject({ name: 'Number', text: '+15550001111' });
  });

  it.each([
    ['sip', 'Sip'],
    ['client', 'Client'],
    ['queue', 'Queue'],
  ] as const)('kind %s becomes <%s>', (kind, noun) => {
    const r = parseTwiml(dialTwiml({ target: { kind, value: 'target-1' } }));
    expect(r.children[0]!.children[0]).toMatchObject({ name: noun, text: 'target-1' });
  });

  it('refuses a timeout outside 5..600 and an empty target', () => {
    expect(() => dialTwiml({ target: { kind: 'number', value: '+1' }, timeout: 4 })).toThrow(TwimlError);
    expect(() => dialTwiml({ target: { kind: 'number', value: '+1' }, timeout: 601 })).toThrow(TwimlError);
    expect(() => dialTwiml({ target: { kind: 'number', value: ' ' } })).toThrow(TwimlError);
  });

  const ID = '3f2b8c1e-9a4d-4e55-8f00-1234567890ab';
  it('carries a context id: a <Client> as <Identity> + <Parameter context_id>, a <Sip> URI as X-Context-Id', () => {
    const client = child(parseTwiml(dialTwiml({ target: { kind: 'client', value: 'client:alice' }, contextId: ID })));
    expect(names(client)).toEqual(['Identity', 'Parameter']);
    expect(client.children[0]!.text).toBe('alice');
    expect(client.children[1]!.attrs).toEqual({ name: 'context_id', value: ID });
    const sip = (value: string) => child(parseTwiml(dialTwiml({ target: { kind: 'sip', value }, contextId: ID }))).text;
    expect(sip('sip:desk@pbx.example.com')).toBe(`sip:desk@pbx.example.com?X-Context-Id=${ID}`);
    // after headers the URI has already: one more, with &
    expect(sip('sip:desk@pbx.example.com?X-Queue=billing')).toBe(
      `sip:desk@pbx.example.com?X-Queue=billing&X-Context-Id=${ID}`,
    );
    // a number cannot carry one; without an id nothing changes
    expect(
      child(parseTwiml(dialTwiml({ target: { kind: 'number', value: '+15550100200' }, contextId: ID }))).text,
    ).toBe('+15550100200');
    expect(child(parseTwiml(dialTwiml({ target: { kind: 'client', value: 'alice' } }))).text).toBe('alice');
  });

  it('refuses a context id that could break out of the URI or the attribute', () => {
    for (const bad of ['a&X-Other=1', 'a b', '<x>', 'a'.repeat(65), ''])
      for (const kind of ['sip', 'client'] as const)
        expect(() =>
          dialTwiml({ target: { kind, value: kind === 'sip' ? 'sip:d@pbx.example.com' : 'alice' }, contextId: bad }),
        ).toThrow(TwimlError);
  });
});

/** The one noun inside <Dial>. */
function child(r: TwimlNode): TwimlNode {
  return r.children.find((c) => c.name === 'Dial')!.children[0]!;
}

describe('other builders', () => {
  it('enqueueTwiml with and without waitUrl', () => {
    expect(parseTwiml(enqueueTwiml({ queue: 'support' })).children[0]).toMatchObject({
      name: 'Enqueue',
      attrs: {},
      text: 'support',
    });
    expect(
      parseTwiml(enqueueTwiml({ queue: 'support', waitUrl: 'https://x.example/hold' })).children[0]!.attrs,
    ).toEqual({ waitUrl: 'https://x.example/hold' });
  });

  it('hangupTwiml with an optional goodbye', () => {
    expect(names(parseTwiml(hangupTwiml()))).toEqual(['Hangup']);
    const r = parseTwiml(hangupTwiml('Goodbye & thanks'));
    expect(names(r)).toEqual(['Say', 'Hangup']);
    expect(r.children[0]!.text).toBe('Goodbye & thanks');
  });

  it('playDigitsThenStreamTwiml plays digits then reconnects the stream', () => {
    const r = parseTwiml(playDigitsThenStreamTwiml({ digits: 'ww1234#', streamUrl: URL_, parameters: { agent: 'a' } }));
    expect(names(r)).toEqual(['Play', 'Connect']);
    expect(r.children[0]!.attrs).toEqual({ digits: 'ww1234#' });
    expect(r.children[1]!.children[0]!.children[0]!.attrs).toEqual({ name: 'agent', value: 'a' });
    expect(() => playDigitsThenStreamTwiml({ digits: '12x', streamUrl: URL_, parameters: {} })).toThrow(TwimlError);
  });

  it('gatherTwiml nests the prompt and sets dtmf attributes', () => {
    const r = parseTwiml(
      gatherTwiml({
        prompt: { say: 'Enter your PIN', playUrl: 'https://x.example/beep.wav' },
        numDigits: 4,
        finishOnKey: '#',
        timeout: 7,
        action: 'https://bridge.example.com/twilio/gather',
        after: { say: 'No input' },
      }),
    );
    expect(names(r)).toEqual(['Gather', 'Say']);
    const g = r.children[0]!;
    expect(g.attrs).toEqual({
      input: 'dtmf',
      action: 'https://bridge.example.com/twilio/gather',
      numDigits: '4',
      finishOnKey: '#',
      timeout: '7',
    });
    expect(names(g)).toEqual(['Say', 'Play']);
    expect(() => gatherTwiml({ prompt: {}, action: 'https://x', finishOnKey: '##' })).toThrow(TwimlError);
  });

  it('sayTwiml with a follow-up verb', () => {
    expect(names(parseTwiml(sayTwiml('Hello', 'hangup')))).toEqual(['Say', 'Hangup']);
    expect(() => sayTwiml('')).toThrow(TwimlError);
  });
});
