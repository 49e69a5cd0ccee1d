import type { CallSession } from '../../call/session.js';
import type { Logger } from '../../observability/logger.js';
import type { ControlAnswer, ControlOp, ControlRequest, FleetStore } from '../../store/fleet-store.js';
import type { CallRegistry } from './registry.js';

/** One call as the admin API and the console list it. */
export interface FleetCallView {
  callSid: string;
  agent: string;
  /** the replica holding the call's session */
  replica: string;
  /** whether it is held by this process (engine state and stream are then known) */
  local: boolean;
  from: string | null;
  to: string | null;
  startedAt: number;
  durationMs: number;
  status: string;
  streamSid: string | null;
  engine: string;
}

export interface FleetList {
  calls: FleetCallView[];
  /** the store could not be read: only this replica's calls are listed */
  partial: boolean;
}

/** The outcome of a control operation, as HTTP: 202 accepted, 404 no such call, 409 already ending, 503 store down, 504 owner silent or gone. */
export type ControlResult = ControlAnswer;

/**
 * Calls of the whole fleet, and the operator's hang-up and transfer: the one place the admin
 * API, the console and the MCP tools act on calls. A call held here is acted on directly; one
 * held by another replica is asked of its owner through the store (pub/sub, request id,
 * bounded wait), and the owner answers with what it did.
 */
export class FleetCalls {
  constructor(
    private readonly registry: CallRegistry,
    private readonly store: FleetStore,
    private readonly controlTimeoutMs: number,
    private readonly logger: Logger,
  ) {
    store.onControl((req) => this.serve(req));
  }

  async list(): Promise<FleetList> {
    const now = Date.now();
    const local = this.registry.list().map((s) => this.viewOf(s, now));
    if (!this.store.shared) return { calls: local, partial: false };
    const fleet = await this.store.list();
    if (!fleet) return { calls: local, partial: true };
    const seen = new Set(local.map((c) => c.callSid));
    const remote: FleetCallView[] = fleet
      .filter((e) => !seen.has(e.callSid))
      .map((e) => ({
        callSid: e.callSid,
        agent: e.agent,
        replica: e.replica,
        local: false,
        from: e.from ?? null,
        to: e.to ?? null,
        startedAt: e.startedAt,
        durationMs: now - e.startedAt,
        status: e.status,
        streamSid: null,
        engine: 'unknown',
      }));
    return { calls: [...local, ...remote], partial: false };
  }

  /** `by` names who asked ('console', 'admin_api'…): the owner's call record keeps it. */
  hangup(callSid: string, by = 'operator'): Promise<ControlResult> {
    return this.act(callSid, { op: 'hangup', by: by.slice(0, 64) });
  }

  transfer(callSid: string, target?: string, by = 'operator'): Promise<ControlResult> {
    return this.act(
      callSid,
      target === undefined
        ? { op: 'transfer', by: by.slice(0, 64) }
        : { op: 'transfer', target: target.slice(0, 256), by: by.slice(0, 64) },
    );
  }

  private async act(callSid: string, cmd: ControlOp): Promise<ControlResult> {
    const s = this.registry.get(callSid);
    if (s || !this.store.shared) return this.actLocally(s, cmd);
    const entry = await this.store.lookup(callSid);
    if (!entry) {
      if (this.store.health() !== 'ok')
        return {
          status: 503,
          body: {
            error: 'store_unavailable',
            message: 'the fleet store (Redis) is unreachable: only calls held by this replica can be controlled',
          },
        };
      return { status: 404, body: { error: 'no such active call' } };
    }
    if (entry.replica === this.store.replicaId) return { status: 404, body: { error: 'no such active call' } };
    const answer = await this.store.sendControl(entry.replica, callSid, cmd, this.controlTimeoutMs);
    if (answer === 'timeout' || answer === 'unavailable') {
      this.logger.warn(
        { callSid, replica: entry.replica, op: cmd.op, answer },
        'call control: the owning replica did not answer',
      );
      return {
        status: 504,
        body: {
          error: answer === 'timeout' ? 'owner_timeout' : 'owner_unavailable',
          replica: entry.replica,
          message:
            answer === 'timeout'
              ? `the replica holding the call did not answer within ${this.controlTimeoutMs} ms`
              : 'the replica holding the call is not connected to the fleet (its entry expires within the lease)',
        },
      };
    }
    return answer;
  }

  /** A control request from another replica for a call it believes is held here. */
  private async serve(req: ControlRequest): Promise<ControlAnswer> {
    const s = this.registry.get(req.callSid);
    this.logger.info(
      { callSid: req.callSid, op: req.cmd.op, from: req.from },
      'call control requested by another replica',
    );
    return this.actLocally(s, req.cmd);
  }

  private async actLocally(s: CallSession | undefined, cmd: ControlOp): Promise<ControlAnswer> {
    if (!s || s.isEnded) return { status: 404, body: { error: 'no such active call' } };
    if (s.control.busy) return { status: 409, body: { error: 'call_already_ending', replica: this.store.replicaId } };
    // Accepted means started: the owner cuts the agent off and sends the REST request at once.
    if (cmd.op === 'hangup') {
      void s.control.operatorHangup(cmd.by ?? 'operator');
      return { status: 202, body: { status: 'hanging_up', replica: this.store.replicaId } };
    }
    void s.control.operatorTransfer(cmd.target, cmd.by ?? 'operator');
    return { status: 202, body: { status: 'transferring', replica: this.store.replicaId } };
  }

  private viewOf(s: CallSession, now: number): FleetCallView {
    return {
      callSid: s.callSid,
      agent: s.agent.id,
      replica: this.store.replicaId,
      local: true,
      from: s.info.from ?? null,
      to: s.info.to ?? null,
      startedAt: s.startedAt,
      durationMs: now - s.startedAt,
      status: s.hasStream ? 'in-progress' : 'connecting',
      streamSid: s.streamSid ?? null,
      engine: s.engine?.state ?? 'none',
    };
  }
}
