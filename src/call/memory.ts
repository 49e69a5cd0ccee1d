/**
 * What was said on the call, bounded: enough to restore context after an engine reconnect or
 * when the caller comes back from a failed transfer, and to write the call record. Old turns
 * fall off the front; each turn's text is capped.
 */
export interface Turn {
  role: 'user' | 'assistant' | 'system';
  text: string;
  atMs: number;
}

export class ConversationMemory {
  private turns: Turn[] = [];

  constructor(
    private readonly maxTurns = 40,
    private readonly maxTurnChars = 400,
  ) {}

  add(role: Turn['role'], text: string, atMs: number): void {
    const clean = text.replace(/\s+/g, ' ').trim().slice(0, this.maxTurnChars);
    if (!clean) return;
    this.turns.push({ role, text: clean, atMs });
    if (this.turns.length > this.maxTurns) this.turns.shift();
  }

  /** An assistant turn cut short by a barge-in: keep what was actually spoken. */
  replaceLastAssistant(text: string): void {
    for (let i = this.turns.length - 1; i >= 0; i--) {
      if (this.turns[i]!.role === 'assistant') {
        this.turns[i]!.text = text.slice(0, this.maxTurnChars);
        return;
      }
    }
  }

  all(): readonly Turn[] {
    return this.turns;
  }

  /** A compact transcript for a fresh engine session, at most `maxChars` (newest kept). */
  summary(maxChars = 2000): string | undefined {
    const lines: string[] = [];
    let used = 0;
    for (let i = this.turns.length - 1; i >= 0; i--) {
      const t = this.turns[i]!;
      const line = `${t.role === 'user' ? 'Caller' : t.role === 'assistant' ? 'Agent' : 'Note'}: ${t.text}`;
      if (used + line.length + 1 > maxChars) break;
      lines.unshift(line);
      used += line.length + 1;
    }
    return lines.length ? lines.join('\n') : undefined;
  }
}
