import type { ToolOutcome } from './types.js';

/**
 * A failure an executor reports in a structured way. `output` is what the engine sees (short, no
 * stack, no secret); `retryable` marks failures a `read` tool may retry once (network, 5xx).
 */
export class ToolExecutionError extends Error {
  constructor(
    readonly outcome: Exclude<ToolOutcome, 'ok'>,
    message: string,
    readonly output: Record<string, unknown>,
    readonly retryable = false,
  ) {
    super(message);
    this.name = 'ToolExecutionError';
  }
}

/** Webhook answered outside 2xx (3xx included: redirects are never followed). */
export function httpStatusError(status: number, bodySnippet: string): ToolExecutionError {
  return new ToolExecutionError(
    'http_error',
    `webhook answered HTTP ${status}`,
    { error: 'http_error', status, body: bodySnippet },
    status >= 500,
  );
}

/** Connection-level failure (refused, reset, DNS): retryable for reads. */
export function networkError(code: string): ToolExecutionError {
  return new ToolExecutionError(
    'tool_failed',
    `webhook network error: ${code}`,
    { error: 'tool_failed', message: `network error: ${code}` },
    true,
  );
}

/** The SSRF guard refused the destination; the reason names a class, never an address. */
export function blockedUrlError(reason: string): ToolExecutionError {
  return new ToolExecutionError('blocked_url', `webhook destination refused: ${reason}`, {
    error: 'blocked_url',
    message: reason,
  });
}

export function isToolExecutionError(err: unknown): err is ToolExecutionError {
  return err instanceof ToolExecutionError;
}
