import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeWav } from './audio/index.js';
import type { CallRecord } from './call/record.js';
import { addDemoCrm, engineSent, unmetExpectations, watchEngine } from './demo-shared.js';
import { createLogger } from './observability/logger.js';
import type { SipMediaReport } from './sip/server.js';
import { Baresip, haveBaresip, type BaresipEvent } from './sim/baresip.js';
import { audibleMs, concat, Ear, pcm16 } from './sim/heard.js';
import type { Scenario } from './sim/engine/scenario.js';
import { startExampleMcpServer } from './sim/mcp-example.js';
import { freePort, SIM_AUTH_TOKEN, startStack } from './sim/stack.js';
import { sipConfigSchema } from './config/sip-schema.js';
import { formatTimeline, maskE164, type Actor } from './sim/twilio/index.js';
import { speak } from './sim/twilio/sounds.js';

/**
 * `npm run demo -- --sip`: the demo's call placed over SIP. Debian's baresip is the caller's user
 * agent (it dials the bridge on loopback, speaks the caller's synthesized lines, keys the account
 * number as RFC 4733 events and records what it hears), and a second baresip is the front desk the
 * agent transfers to: the bridge's REFER sends the caller there, as a trunk's phone would go. The
 * bridge, the offline engine, its script and the example CRM are the Twilio demo's.
 */

const RATE = 8000;
/** The longest the call may run: the caller hangs up then (aufile's files last this long too). */
const MAX_CALL_MS = 90_000;
const DTMF_GAP_MS = 150;
/** how long the front desk talks with the caller before it hangs up (the Twilio demo's talkMs) */
const FRONT_DESK_TALK_MS = 2500;
const CALLED = '+15550001111';
const CALLER = '+15557654321';
const FRONT_DESK = '+15550100200';
const FRONT_DESK_LINE = 'Front desk, this is Sam. How can I help?';

type Human = 'answer' | 'busy' | 'no-answer' | 'failed';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SipDemoOptions {
  json: boolean;
  out: string;
  human: Human;
  scenario: Scenario;
}

export async function runSipDemo(o: SipDemoOptions): Promise<number> {
  const print = (line: string) => {
    if (!o.json) process.stdout.write(`${line}\n`);
  };
  if (!haveBaresip()) {
    process.stderr.write('demo --sip: baresip is not installed (apt-get install baresip); nothing was run\n');
    return 1;
  }
  print('omni-phone-bridge demo over SIP — offline: built-in Omni engine, baresip as the caller, no accounts needed\n');
  const startedAt = Date.now();
  const timeline: { atMs: number; who: Actor; what: string }[] = [];
  const note = (who: Actor, what: string) => {
    const e = { atMs: Date.now() - startedAt, who, what };
    timeline.push(e);
    print(formatTimeline([e]));
  };
  const records: CallRecord[] = [];
  const [callerLine, frontDeskLine] = await Promise.all([
    speak('Hi, I would like to know where my order four four one seven is.'),
    speak(FRONT_DESK_LINE),
  ]);
  if (!callerLine || !frontDeskLine) throw new Error('the offline synthesizer produced no speech');

  const crm = await startExampleMcpServer();
  const closers: (() => Promise<void>)[] = [() => crm.close()];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    // The front desk: a 'failed' one is a port where nothing answers SIP
    const frontDesk = await Baresip.start({
      source: { pcm: new Int16Array((MAX_CALL_MS * RATE) / 1000) },
      answer: o.human === 'answer' ? 'auto' : 'manual',
      user: FRONT_DESK,
    });
    closers.push(() => frontDesk.close());
    const frontDeskPort = o.human === 'failed' ? await freePort() : frontDesk.sipPort;
    const rtpMin = 30000 + 2 * Math.floor(Math.random() * 4000);
    const stack = await startStack({
      ...(o.json
        ? { logger: createLogger({ level: 'warn', secrets: [SIM_AUTH_TOKEN], destination: process.stderr }) }
        : {}),
      env: { SIP_PORT: '0', SIP_HOST: '127.0.0.1', RTP_PORT_MIN: String(rtpMin), RTP_PORT_MAX: String(rtpMin + 3) },
      engine: { scenario: o.scenario, recordAudio: true },
      onCallRecord: (r) => records.push(r),
      tweak: (config) => {
        addDemoCrm(config, crm.url);
        // A REFER's tool result waits for the final NOTIFY, up to transfer.timeout_s (25 s shipped).
        // The offline engine counts a result later than 16 s as broken, so an unanswered front
        // desk gives up sooner here.
        config.file.agents.find((a) => a.id === 'support')!.transfer.timeout_s = 12;
        config.file.sip = sipConfigSchema.parse({
          // `kind: number` targets (the front desk) are REFERred to this "carrier" proxy: the front desk's baresip
          trunks: [
            {
              name: 'loopback',
              allow: ['127.0.0.1/32'],
              transfer: 'refer',
              outbound_proxy: `sip:127.0.0.1:${frontDeskPort}`,
            },
          ],
          answer_wait_ms: 5000,
          media_timeout_s: 30,
        });
      },
    });
    closers.push(() => stack.close());
    const media: SipMediaReport[] = [];
    stack.bridge.sip!.onMediaReport = (r) => media.push(r);
    await stack.bridge.mcp.whenSettled(5000);
    const sipPort = stack.bridge.sip!.port;
    print(
      `MCP server crm ${crm.url} · tools ${
        stack.bridge.mcp
          .connection('support', 'crm')
          ?.tools.map((t) => t.exposed)
          .join(', ') || 'none'
      }`,
    );
    print(
      `bridge SIP 127.0.0.1:${sipPort} (UDP) · engine ${stack.engine.url} · front desk baresip 127.0.0.1:${frontDeskPort}\n`,
    );

    const caller = await Baresip.start({ source: { pcm: new Int16Array((MAX_CALL_MS * RATE) / 1000) }, user: CALLER });
    closers.push(() => caller.close());
    const describe = (e: BaresipEvent) =>
      `${e.type.toLowerCase().replace(/_/g, ' ')}${e.param ? `: ${e.param}` : ''}${e.peeruri ? ` (${e.peeruri})` : ''}`;
    caller.onEvent.push((e) => {
      if (e.class === 'call' && e.type !== 'CALL_RTCP') note('caller', `baresip ${describe(e)}`);
    });
    frontDesk.onEvent.push((e) => {
      if (e.class !== 'call' || e.type === 'CALL_RTCP') return;
      note('human', `baresip ${describe(e)}`);
      // a busy front desk turns the call down as it comes in
      if (e.type === 'CALL_INCOMING' && o.human === 'busy') void frontDesk.command('hangup');
    });
    const engineView = watchEngine(stack.engine, (what) => note('agent', what));
    const calls = (type: string) => caller.events.filter((e) => e.type === type).length;
    // the caller's calls up now (a transfer's attempt turned down never was)
    const up = new Set<string>();
    caller.onEvent.push((e) => {
      const id = typeof e.id === 'string' ? e.id : String(e.peeruri);
      if (e.type === 'CALL_ESTABLISHED') up.add(id);
      else if (e.type === 'CALL_CLOSED') up.delete(id);
    });
    const live = () => (calls('CALL_ESTABLISHED') === 0 || up.size > 0) && Date.now() - startedAt < MAX_CALL_MS;

    const dialled = await caller.command('dial', `sip:${CALLED}@127.0.0.1:${sipPort}`);
    if (!dialled.ok) throw new Error(`baresip would not dial: ${dialled.data}`);
    note('caller', `dials sip:${CALLED}@127.0.0.1:${sipPort}`);
    await caller.event('CALL_ESTABLISHED', 15_000);

    // The caller's script (the Twilio demo's): its line once the greeting is over; the account
    // number once the agent has asked for it (its collect is open) and finished saying so.
    const ear = new Ear(caller);
    let heardBefore = 0;
    if (await ear.agentSilent(700, heardBefore, 15_000, live)) {
      note('caller', 'says "Hi, I would like to know where my order four four one seven is."');
      await caller.say(callerLine, MAX_CALL_MS);
      await sleep((callerLine.length * 1000) / RATE);
      note('caller', 'done speaking');
      ear.poll();
      heardBefore = ear.audibleFrames;
    }
    const until = Date.now() + 30_000;
    while (live() && !engineSent(stack.engine, 'collect') && Date.now() < until) await sleep(20);
    if (live() && engineSent(stack.engine, 'collect') && (await ear.agentSilent(700, heardBefore, 15_000, live))) {
      note('caller', 'keys 482913# (RFC 4733)');
      for (const key of '482913#') {
        await caller.command('sndcode', key);
        await sleep(DTMF_GAP_MS);
      }
    }

    // The call ends with the transfer: the bridge's REFER takes the caller to the front desk,
    // which talks and hangs up; or, the transfer failing, the call stays with the agent (whose
    // script ends there) and the caller hangs up.
    let frontDeskHungUp = false;
    let givingUp = 0;
    let hungUp = false;
    while (live()) {
      if (calls('CALL_ESTABLISHED') >= 2 && !frontDeskHungUp) {
        await sleep(FRONT_DESK_TALK_MS / 2);
        note('human', `says "${FRONT_DESK_LINE}"`);
        await frontDesk.say(frontDeskLine, MAX_CALL_MS);
        await sleep((frontDeskLine.length * 1000) / RATE + FRONT_DESK_TALK_MS / 2);
        note('human', 'hangs up');
        await frontDesk.command('hangup');
        frontDeskHungUp = true;
      }
      // the transfer's result reached the engine without a second call: it failed
      const transferAnswered = stack.engine.sessions.some((s) =>
        s.toolResults.some((t) => t.callId === 'transfer-1' || t.name === 'transfer_to_human'),
      );
      if (transferAnswered && calls('CALL_ESTABLISHED') < 2 && !givingUp) givingUp = Date.now() + 3000;
      if (givingUp && Date.now() > givingUp && calls('CALL_ESTABLISHED') < 2) {
        if (!hungUp) note('caller', 'hangs up (the transfer did not connect)');
        hungUp = true;
        // `hangup` ends baresip's current call: a transfer attempt still ringing first, then the agent's
        await caller.command('hangup');
        givingUp = Date.now() + 1000;
      }
      await sleep(50);
    }
    if (Date.now() - startedAt >= MAX_CALL_MS) {
      note('caller', `hangs up after ${MAX_CALL_MS / 1000} s`);
      await caller.command('hangup');
    }
    const closeUntil = Date.now() + 10_000;
    while (up.size > 0 && Date.now() < closeUntil) await sleep(50);
    clearInterval(engineView);
    // the bridge writes its call record when the dialog ends
    const recordUntil = Date.now() + 5000;
    while (records.length === 0 && Date.now() < recordUntil) await sleep(50);

    const heard = caller.dumps('dec');
    const said = caller.dumps('enc');
    mkdirSync(join(o.out, '..'), { recursive: true });
    writeFileSync(o.out, writeWav(concat(heard.map((d) => d.pcm)), RATE));
    const session = stack.engine.sessions[0];
    const engineGot = session ? concat(session.audioReceived ?? []) : new Int16Array(0);
    const rec = records[0];
    const summary = {
      callSid: rec?.callSid,
      transport: rec?.transport,
      outcome: rec?.outcome,
      durationMs: rec?.durationMs ?? 0,
      calls: calls('CALL_ESTABLISHED'),
      dialed: rec?.transfer ? [{ target: maskE164(FRONT_DESK), result: rec.transfer }] : [],
      toolCalls: records.flatMap((r) => r.tools),
      verbs: records.flatMap((r) => r.verbs.filter((v) => v.verb !== 'status')),
      dtmf: rec?.dtmf ?? '',
      callerTurns: session?.transcripts.filter((t) => t.role === 'user').map((t) => t.text) ?? [],
      audio: {
        heardMs: audibleMs(concat(heard.map((d) => d.pcm)), RATE),
        heardAgentMs: heard[0] ? audibleMs(heard[0].pcm, RATE) : 0,
        heardFrontDeskMs: heard[1] ? audibleMs(heard[1].pcm, RATE) : 0,
        callerSentMs: said[0] ? audibleMs(said[0].pcm, RATE) : 0,
        engineHeardCallerMs: session ? audibleMs(engineGot, session.inputRate) : 0,
        // what the engine said, measured the same way: the caller should hear all of it
        agentSpokeMs: session ? audibleMs(pcm16(session.audioSent ?? []), session.outputRate) : 0,
      },
      rtp: media[0]
        ? {
            packetsIn: media[0].packetsIn,
            packetsOut: media[0].packetsOut,
            // the caller's RTP came from baresip's own RTP port, and the bridge's went back there
            latchedToCaller:
              media[0].latched?.address === '127.0.0.1' &&
              media[0].latched.port >= caller.rtpPorts[0] &&
              media[0].latched.port <= caller.rtpPorts[1],
          }
        : undefined,
      engineViolations: stack.engine.violations,
      recording: o.out,
    };
    // A blind REFER counts as started only once the front desk has answered (the final NOTIFY):
    // one that is busy, does not answer or is not there leaves the call with the agent, and the
    // caller hangs up. The Twilio demo's Dial counts as started before the human answers.
    const transferFailed = o.human !== 'answer' && summary.verbs.some((v) => v.verb === 'transfer_to_human');
    const unmet = unmetExpectations(summary).filter((u) => !(transferFailed && u === 'no transfer started'));
    if (o.human === 'answer' && summary.outcome !== 'transferred')
      unmet.push(`the call ended ${summary.outcome}, not transferred`);
    if (summary.callerTurns.length === 0) unmet.push("the engine heard no turn from the caller's RTP");
    // baresip sends a packet every 20 ms from answer to BYE: fewer than 9 in 10 of those is a gap
    const expected = summary.durationMs / 20;
    if (!summary.rtp || summary.rtp.packetsIn < 0.9 * expected || !summary.rtp.latchedToCaller)
      unmet.push(`caller RTP: ${JSON.stringify(summary.rtp)} (about ${Math.round(expected)} packets expected)`);
    if (o.json) process.stdout.write(`${maskE164(JSON.stringify({ ...summary, unmet, timeline }))}\n`);
    else {
      print('\n— summary —');
      print(
        `call ${summary.callSid ?? '?'} (${summary.transport ?? '?'}) ended ${summary.outcome ?? '?'} after ${(summary.durationMs / 1000).toFixed(1)} s; baresip placed ${summary.calls} call(s)`,
      );
      print(
        `tools: ${summary.toolCalls.map((t) => `${t.name}${t.executor === 'mcp' ? ` (MCP ${t.server})` : ''} ${t.outcome} ${t.durationMs} ms`).join(', ') || 'none'}`,
      );
      print(`engine verbs: ${summary.verbs.map((v) => `${v.verb} → ${v.result}`).join(', ') || 'none'}`);
      print(`keys the bridge got: ${summary.dtmf || 'none'}`);
      print(`caller turns the engine took: ${summary.callerTurns.length}`);
      print(
        `audio: the agent spoke ${(summary.audio.agentSpokeMs / 1000).toFixed(1)} s, the caller heard ${(summary.audio.heardAgentMs / 1000).toFixed(1)} s of it and ${(summary.audio.heardFrontDeskMs / 1000).toFixed(1)} s of the front desk; it sent ${(summary.audio.callerSentMs / 1000).toFixed(1)} s of speech, the engine heard ${(summary.audio.engineHeardCallerMs / 1000).toFixed(1)} s`,
      );
      if (summary.rtp)
        print(
          `RTP: the bridge got ${summary.rtp.packetsIn} packets from baresip (${summary.rtp.latchedToCaller ? "latched to baresip's RTP port" : 'NOT latched to baresip'}) and sent ${summary.rtp.packetsOut}`,
        );
      print(`protocol violations: engine side ${summary.engineViolations.length}`);
      if (transferFailed)
        print(
          `the front desk was ${o.human}: over SIP the REFER fails on its answer, the call stays with the agent and the caller hangs up`,
        );
      print(`what the caller heard: ${summary.recording}`);
    }
    if (unmet.length) process.stderr.write(`demo: the scripted call did not go as written: ${unmet.join('; ')}\n`);
    return stack.engine.violations.length === 0 && unmet.length === 0 ? 0 : 1;
  } finally {
    await closeAll();
  }
}
