/**
 * Bounded waiting for the scenario runner. Every wait ends — by the thing arriving, a timeout, or
 * the session closing (abort signal) — so a script can never hang a session or leak a timer.
 */

/** A queue of things that happened (caller turns, digits) that a script consumes in order. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private waiter: ((item: T) => void) | undefined;

  push(item: T): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w(item);
    } else {
      this.items.push(item);
    }
  }

  get size(): number {
    return this.items.length;
  }

  clear(): void {
    this.items.length = 0;
  }

  /** The oldest item, or the next to arrive within `timeoutMs`; undefined on timeout or abort. */
  take(timeoutMs: number, signal: AbortSignal): Promise<T | undefined> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift());
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve) => {
      const done = (item: T | undefined): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (this.waiter === deliver) this.waiter = undefined;
        resolve(item);
      };
      const deliver = (item: T): void => done(item);
      const onAbort = (): void => done(undefined);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = deliver;
    });
  }
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Fills `{{path.to.field}}` from the first source that has it; unknown fields read "unknown".
 * Sources are JSON values (scenario variables, tool outputs off the wire): objects and arrays are
 * written as JSON, strings, numbers and booleans as text.
 */
export function fillTemplate(template: string, ...sources: unknown[]): string {
  return template.replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (_m, path: string) => {
    for (const source of sources) {
      let v: unknown = source;
      for (const part of path.split('.')) {
        v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
      }
      if (typeof v === 'object' && v !== null) return JSON.stringify(v);
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
        return String(v);
    }
    return 'unknown';
  });
}
