import { randomInt } from 'node:crypto';

// Plain JavaScript, so that production's `node dist/main.js` imports it without a TypeScript loader.
/**
 * Example action tool for the demo: opens a support ticket and returns its id. The agent's persona
 * asks the caller to confirm before calling it; the bridge never retries it. A repeated delivery
 * of the same tool call (same CallSid + call id) returns the same ticket instead of a second one.
 */
const MAX_REMEMBERED = 1000;
/** @type {Map<string, { ticket_id: string, status: string, priority: string }>} */
const opened = new Map();

/** @type {import('../../src/tools/types.js').ToolHandler} */
const createSupportTicket = async (args, context) => {
  context.signal.throwIfAborted();
  const key = `${context.callSid}:${context.toolCallId}`;
  const existing = opened.get(key);
  if (existing) return existing;
  const ticket = {
    ticket_id: `T-${randomInt(100000, 1000000)}`,
    status: 'open',
    priority: typeof args.priority === 'string' ? args.priority : 'normal',
  };
  if (opened.size >= MAX_REMEMBERED) opened.delete(/** @type {string} */ (opened.keys().next().value));
  opened.set(key, ticket);
  return ticket;
};

export default createSupportTicket;
