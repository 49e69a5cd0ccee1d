import { describe, expect, it } from 'vitest';
import { TwimlParseError, parseTwiml, parseTwimlXml, sketchTwiml } from '../../../src/sim/twilio/twiml-parser.js';

describe('simulator TwiML parser', () => {
  it('reads elements, attributes, text, entities, CDATA and comments', () => {
    const r = parseTwiml(`<?xml version="1.0" encoding="UTF-8"?>
      <!-- answer -->
      <Response>
        <Say voice='alice'>Fish &amp; chips &lt;3 &#65;&#x42;</Say>
        <Play digits="ww1#"/>
        <Say><![CDATA[<raw> & text]]></Say>
      </Response>`);
    expect(r.children.map((c) => c.name)).toEqual(['Say', 'Play', 'Say']);
    expect(r.children[0]).toMatchObject({ attrs: { voice: 'alice' }, text: 'Fish & chips <3 AB' });
    expect(r.children[1]).toMatchObject({ attrs: { digits: 'ww1#' }, children: [], text: '' });
    expect(r.children[2]!.text).toBe('<raw> & text');
  });

  it.each([
    ['<Response><Say>x</Response>', /does not close/],
    ['<Response><Say>x</Say>', /not closed/],
    ['<Response a="1" a="2"/>', /duplicate attribute/],
    ['<Response a=1/>', /quoted value/],
    ['<Response>&bogus;</Response>', /unknown entity/],
    ['<Response>a & b</Response>', /bare "&"/],
    ['<!DOCTYPE x><Response/>', /DOCTYPE/],
    ['<Response/><Response/>', /more than one root/],
    ['text<Response/>', /outside the root/],
    ['', /no root element/],
  ])('rejects %s', (xml, why) => {
    expect(() => parseTwimlXml(xml)).toThrow(why);
  });

  it('requires <Response> as the root for TwiML', () => {
    expect(() => parseTwiml('<Reply/>')).toThrow(TwimlParseError);
  });

  it('refuses absurd nesting', () => {
    const deep = '<Response>' + '<a>'.repeat(40) + '</a>'.repeat(40) + '</Response>';
    expect(() => parseTwimlXml(deep)).toThrow(/nested too deeply/);
  });

  it('sketches a document in one line', () => {
    const r = parseTwiml('<Response><Say>Hi</Say><Dial action="/a"><Number>+1555</Number></Dial></Response>');
    expect(sketchTwiml(r)).toBe('<Say>Hi</Say><Dial><Number>+1555</Number></Dial>');
  });
});
