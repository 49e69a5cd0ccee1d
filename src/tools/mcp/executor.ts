import { ToolExecutionError } from '../errors.js';
import type { Executor } from '../types.js';
import type { McpConnection } from './connection.js';

/** Longest error message taken from a tool's `isError` result. */
const MAX_ERROR_MESSAGE = 500;
/** At most this many non-text items are described. */
const MAX_SUMMARIES = 16;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const str = (v: unknown, max = 100): string | undefined => (typeof v === 'string' ? v.slice(0, max) : undefined);

/** One line saying what a non-text content item was, never its bytes. */
function summarise(item: Record<string, unknown>): string {
  const type = str(item.type, 32) ?? 'unknown';
  if ((type === 'image' || type === 'audio') && typeof item.data === 'string') {
    return `[${type} ${str(item.mimeType, 64) ?? 'unknown type'}, ${Math.floor((item.data.length * 3) / 4)} bytes]`;
  }
  if (type === 'resource_link') return `[resource link ${str(item.uri, 200) ?? ''}]`;
  if (type === 'resource' && isObject(item.resource)) {
    const r = item.resource;
    return `[resource ${str(r.uri, 200) ?? ''}${typeof r.mimeType === 'string' ? ` ${str(r.mimeType, 64)}` : ''}]`;
  }
  return `[${type} content]`;
}

function texts(content: unknown): { text: string[]; other: string[] } {
  const text: string[] = [];
  const other: string[] = [];
  if (!Array.isArray(content)) return { text, other };
  for (const item of content) {
    if (!isObject(item)) continue;
    if (item.type === 'text' && typeof item.text === 'string') text.push(item.text);
    else if (item.type === 'resource' && isObject(item.resource) && typeof item.resource.text === 'string')
      text.push(item.resource.text);
    else if (other.length < MAX_SUMMARIES) other.push(summarise(item));
  }
  return { text, other };
}

/**
 * What the engine receives for a `tools/call` result: `structuredContent` when the server gave
 * one, else the text content joined by newlines (with a one-line description per non-text item
 * under `content`). `isError: true` becomes `{error: "tool_failed", message}`. The runtime then
 * truncates the output at 6144 bytes like any tool's.
 */
export function resultToOutput(result: unknown): unknown {
  if (!isObject(result))
    throw new ToolExecutionError('tool_failed', 'MCP result is not an object', {
      error: 'tool_failed',
      message: 'MCP result is not an object',
    });
  const { text, other } = texts(result.content);
  if (result.isError === true) {
    const joined = text
      .join('\n')
      .replace(/[\u0000-\u001f\u007f]+/g, ' ')
      .trim();
    const message = joined
      ? joined.length > MAX_ERROR_MESSAGE
        ? `${joined.slice(0, MAX_ERROR_MESSAGE)}…`
        : joined
      : 'the tool reported an error';
    throw new ToolExecutionError('tool_failed', 'MCP tool reported an error', { error: 'tool_failed', message });
  }
  if (isObject(result.structuredContent)) return result.structuredContent;
  if (other.length === 0) return text.join('\n');
  return { text: text.join('\n'), content: other };
}

/** The executor of one MCP tool: `tools/call` by the server's own name on the shared session. */
export function createMcpExecutor(conn: McpConnection, original: string, budgetMs: number): Executor {
  return async (args, ctx) => resultToOutput(await conn.call(original, args, ctx.signal, budgetMs));
}
