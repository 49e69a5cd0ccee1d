import type { AgentConfig, IvrConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { SipTrunkConfig } from '../config/sip-schema.js';
import { SipLeg, type SipDialogControl, type SipLegOptions, type SipRtpMedia } from './call-leg.js';
import type { SipCallSession, SipHost } from './host.js';
import { SipIvr } from './ivr.js';
import type { IncomingCall } from './uas.js';
import { waitReady } from './wait-ready.js';

/** What an IVR call's choice needs of its INVITE's handling (src/sip/server.ts). */
export interface IvrCall {
  call: IncomingCall;
  callSid: string;
  number: string;
  trunk: SipTrunkConfig;
  from: string | undefined;
  media: SipRtpMedia;
  dialog: SipDialogControl;
  legOptionsFor: (a: AgentConfig | undefined) => SipLegOptions;
}

/**
 * An IVR number's menu, then its choice: an agent's session on this same dialog and media
 * (admitted as any call is), a transfer target by name (as the Twilio IVR: any agent's
 * allow-list), or a hang-up. The call ending meanwhile stops the menu.
 */
export async function runIvrCall(
  c: IvrCall,
  ivr: IvrConfig,
  o: {
    host: SipHost;
    logger: Logger;
    /** the agent chosen (a B2BUA transfer of its reads its timeout) */
    setAgent: (a: AgentConfig) => void;
    /** the session took the call: the server holds it from here as any call */
    adopt: (session: SipCallSession) => void;
  },
): Promise<void> {
  const { host } = o;
  const log = o.logger.child({ callSid: c.callSid });
  const menu = new SipIvr(ivr, { media: c.media, signal: c.call.signal, log });
  c.media.start(menu);
  const option = await menu.run().catch((err: unknown) => {
    log.error({ err: (err as Error).message }, 'SIP IVR failed: hanging up');
    return { hangup: true } as const;
  });
  if (!option || c.call.signal.aborted) return;
  if ('hangup' in option) return c.call.hangup();
  if ('transfer' in option) {
    const owner = host.file().agents.find((a) => a.transfer.targets.some((t) => t.name === option.transfer));
    const target = owner?.transfer.targets.find((t) => t.name === option.transfer);
    if (!owner || !target) return c.call.hangup();
    const r = await new SipLeg(c.dialog, () => c.media, log, c.legOptionsFor(owner)).transfer(target);
    log.info({ target: target.name, ok: r.ok }, 'SIP IVR transfer finished');
    // REFER done: our BYE; joined (B2BUA): the relay owns the dialog now; failed: nothing to go back to
    if (!r.ok || c.trunk.transfer !== 'invite') c.call.hangup();
    return;
  }
  const agent = host.agent(option.agent);
  if (!agent) return c.call.hangup();
  if (host.draining || host.atCapacity() || !(await host.admit(c.callSid))) {
    log.warn('SIP IVR: no room for the chosen agent: hanging up');
    return c.call.hangup();
  }
  o.setAgent(agent);
  const legOptions = c.legOptionsFor(agent);
  const session = host.startCall(
    {
      callSid: c.callSid,
      agent,
      ...(c.from ? { from: c.from } : {}),
      to: c.number,
      direction: 'inbound',
      transport: 'sip',
      trunk: c.trunk.name,
    },
    (_info, l) => new SipLeg(c.dialog, () => c.media, l, legOptions),
  );
  const ready = await waitReady(session.answerable, host.file().sip?.answer_wait_ms ?? 5000, c.call.signal);
  if (ready !== 'ready' || session.isEnded || c.media.isClosed) {
    if (!session.isEnded) session.end(ready === 'cancel' ? 'caller_hangup' : 'no_stream');
    return c.call.hangup();
  }
  o.adopt(session);
  session.attachStream(c.media);
  c.media.handTo(session);
}
