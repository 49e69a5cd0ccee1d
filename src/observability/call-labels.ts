import type { ConfigFile } from '../config/schema.js';

/**
 * The per-agent labels of a call's metrics: `agent` (the agent's id) and `route` (the routing name
 * of the number or trunk the call came in on). Both values come only from the configuration, never
 * from what a caller, Twilio, a trunk or the engine sent: an id or a number that is not in the file
 * maps to a fixed value, so the number of series is bounded by the configuration.
 *
 * A phone number is never a label value: a number route is labelled by its `name:` in the file.
 */
export interface CallLabels {
  agent: string;
  route: string;
}

/** an agent id the configuration does not define */
export const UNKNOWN_AGENT = '_unknown';
/** a call refused before it had an agent (an IVR number, whose caller had not picked one yet) */
export const NO_AGENT = '_none';
/** a configured number route without a `name:` */
export const UNNAMED_ROUTE = '_unnamed';
/** a number not in `numbers:` (the default agent answers) and not from a configured trunk */
export const DEFAULT_ROUTE = '_default';

/** The labels of a metric with no call to name (a link or tool run outside a call: tests, scripts). */
export const NO_CALL_LABELS: CallLabels = Object.freeze({ agent: UNKNOWN_AGENT, route: DEFAULT_ROUTE });

/** What is known of a call when it is labelled: each field as the caller or the peer gave it. */
export interface LabelSource {
  agentId?: string | undefined;
  /** the dialled number */
  to?: string | undefined;
  /** the SIP trunk's name, for a call from a trunk */
  trunk?: string | undefined;
}

interface Space {
  agents: ReadonlySet<string>;
  trunks: ReadonlySet<string>;
  numbers: ConfigFile['numbers'];
}

const NO_SPACE: Space = { agents: new Set(), trunks: new Set(), numbers: {} };

/**
 * Resolves a call's labels against the configuration in force (`use` is given a getter, so a
 * reload is seen at once). Called at a call's edges (created, refused, ended), never per frame:
 * the session resolves its labelled metric children once.
 */
export class CallLabeller {
  private file: (() => ConfigFile) | undefined;
  private cache = new WeakMap<ConfigFile, Space>();

  use(file: () => ConfigFile): void {
    this.file = file;
  }

  of(src: LabelSource): CallLabels {
    const space = this.space();
    const id = src.agentId;
    const agent = id === NO_AGENT ? NO_AGENT : id !== undefined && space.agents.has(id) ? id : UNKNOWN_AGENT;
    return { agent, route: routeOf(space, src) };
  }

  private space(): Space {
    const file = this.file?.();
    if (!file) return NO_SPACE;
    let s = this.cache.get(file);
    if (!s) {
      s = {
        agents: new Set(file.agents.map((a) => a.id)),
        trunks: new Set((file.sip?.trunks ?? []).map((t) => t.name)),
        numbers: file.numbers,
      };
      this.cache.set(file, s);
    }
    return s;
  }
}

function routeOf(space: Space, src: LabelSource): string {
  // own-property lookup only: a "number" like `__proto__` or `constructor` is not a route
  const route = src.to !== undefined && Object.hasOwn(space.numbers, src.to) ? space.numbers[src.to] : undefined;
  if (route) return route.name ?? UNNAMED_ROUTE;
  if (src.trunk !== undefined && space.trunks.has(src.trunk)) return src.trunk;
  return DEFAULT_ROUTE;
}
