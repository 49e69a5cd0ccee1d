import type { Logger } from '../observability/logger.js';
import type { Pool } from './pool.js';

/**
 * Whether the control plane's database answers, known without asking it on a request's path: a
 * `SELECT 1` every `everyMs` (one at a time, counted lost past 3 s). The answer feeds /readyz
 * (`degraded`, database_unreachable); the bridge keeps
 * serving without it. A change of state is logged once.
 */
export class DatabaseHealth {
  private state: 'ok' | 'unreachable' = 'ok';
  private readonly timer: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    everyMs = 1000,
  ) {
    this.timer = setInterval(() => void this.check(), everyMs);
    this.timer.unref();
  }

  get current(): 'ok' | 'unreachable' {
    return this.state;
  }

  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      // a database that swallows packets answers nothing: past 3 s it counts as lost
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('no answer'), { code: 'timeout' })), 3000);
      });
      try {
        await Promise.race([this.pool.query('SELECT 1'), late]);
      } finally {
        clearTimeout(timer);
      }
      if (this.state !== 'ok') this.logger.info('control plane: the database answers again');
      this.state = 'ok';
    } catch (err) {
      if (this.state === 'ok')
        this.logger.warn(
          { code: (err as { code?: string }).code ?? 'error' },
          'control plane: the database does not answer; the bridge keeps serving (/readyz degraded)',
        );
      this.state = 'unreachable';
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
