/**
 * `<Dial><Conference>` (specs/twilio.md §3): every call whose TwiML names the same conference
 * meets in it. It starts when a participant with `startConferenceOnEnter` (default true) is in;
 * until then each one hears the wait music (`waitUrl=""`: silence). Once started, what each says
 * is heard by every other participant. It ends when a participant with `endConferenceOnExit`
 * leaves (hangs up or is moved by a REST update); the others' `<Dial>` then goes on.
 */

/** What a conference needs of one of its calls. */
export interface ConferenceMember {
  readonly callSid: string;
  /** what the others hear of it, one 20 ms frame at a time */
  hear(frame: Int16Array): void;
}

export class SimConference {
  private readonly members = new Map<ConferenceMember, { endOnExit: boolean }>();
  private startedFlag = false;
  private endedFlag = false;
  private readonly waiters = new Set<() => void>();

  constructor(readonly name: string) {}

  get started(): boolean {
    return this.startedFlag && !this.endedFlag;
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  get size(): number {
    return this.members.size;
  }

  join(m: ConferenceMember, o: { startOnEnter: boolean; endOnExit: boolean }): void {
    this.members.set(m, { endOnExit: o.endOnExit });
    if (o.startOnEnter && !this.startedFlag) {
      this.startedFlag = true;
      this.wake();
    }
  }

  leave(m: ConferenceMember): void {
    const info = this.members.get(m);
    if (!info) return;
    this.members.delete(m);
    if (info.endOnExit || this.members.size === 0) {
      this.endedFlag = true;
      this.wake();
    }
  }

  /** A member's 20 ms frame, heard by the others (only once the conference started). */
  speak(from: ConferenceMember, frame: Int16Array): void {
    if (!this.started) return;
    for (const m of this.members.keys()) if (m !== from) m.hear(Int16Array.from(frame));
  }

  /** Resolves on the next change (started or ended). */
  changed(): Promise<void> {
    return new Promise((r) => this.waiters.add(r));
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}

/** The conferences of one simulator, by name; an ended one is replaced by the next join. */
export class ConferenceRoom {
  private readonly byName = new Map<string, SimConference>();

  get(name: string): SimConference {
    let c = this.byName.get(name);
    if (!c || c.ended) {
      c = new SimConference(name);
      this.byName.set(name, c);
    }
    return c;
  }

  find(name: string): SimConference | undefined {
    return this.byName.get(name);
  }
}
