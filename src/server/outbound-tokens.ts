/** Tokens of outbound calls placed through the API, waiting for their media stream. */
export class OutboundTokens {
  private readonly map = new Map<string, { agent: string; expires: number }>();

  constructor(private readonly ttlMs = 120_000, private readonly max = 10_000) {}

  set(token: string, agent: string): void {
    this.sweep();
    this.map.set(token, { agent, expires: Date.now() + this.ttlMs });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }

  /** The agent for a token, consumed once. */
  take(token: string): string | undefined {
    const e = this.map.get(token);
    this.map.delete(token);
    return e && e.expires >= Date.now() ? e.agent : undefined;
  }

  delete(token: string): void {
    this.map.delete(token);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, v] of this.map) if (v.expires < now) this.map.delete(k);
  }
}
