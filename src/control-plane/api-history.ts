import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ApiGuard, RefusalReason } from './api-auth.js';
import { notFound, parseOr422 } from './api-common.js';
import { callKeyOf, getCall, listCalls, type CallFilter } from './call-history.js';
import { decodeCursor, DEFAULT_LIMIT, MAX_LIMIT } from './pagination.js';
import type { Queryable } from './pool.js';

/**
 * The fleet's call history on /v1 (viewer and above): `GET /v1/calls` with filters and a keyset
 * cursor, `GET /v1/calls/{sid}` for one call's record. Every query parameter is checked before
 * the database is asked: an unknown one (a misspelt filter would silently widen the answer), a
 * time that is not ISO 8601 with its offset, a range that ends before it starts, a cursor that is
 * not one of this list's — each a 422 naming the parameter, counted as a refusal.
 */

const CALL_SID = /^[A-Za-z0-9_-]{1,64}$/;

const isoTime = z.iso.datetime({ offset: true, message: 'an ISO 8601 time with its offset (2026-01-31T09:00:00Z)' });

const callsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT),
    cursor: z.string().max(512).optional(),
    since: isoTime.optional(),
    until: isoTime.optional(),
    number: z
      .string()
      .max(32)
      .regex(/^\+?[\d\s().-]+$/, 'digits (a number, or its last four digits)')
      .refine((v) => v.replace(/\D/g, '').length >= 4, 'at least its last four digits')
      .optional(),
    agent: z
      .string()
      .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'an agent id')
      .optional(),
    outcome: z
      .string()
      .regex(/^[a-z0-9_-]{1,40}$/, 'an outcome (caller_hangup, transferred…)')
      .optional(),
    transport: z.enum(['twilio', 'sip']).optional(),
    call_sid: z.string().regex(CALL_SID, 'a CallSid').optional(),
  })
  .strict()
  .refine((q) => !q.since || !q.until || Date.parse(q.since) < Date.parse(q.until), {
    message: 'the range is empty: since must be before until',
    path: ['until'],
  });

export function registerHistoryRoutes(
  app: FastifyInstance,
  db: Queryable,
  guard: ApiGuard,
  count: (reason: RefusalReason) => void,
): void {
  const refuse = (reply: FastifyReply, issue: string) => {
    count('invalid_query');
    return reply.code(422).send({ error: 'invalid_query', message: 'the query is invalid', issues: [issue] });
  };

  app.get('/calls', { preHandler: guard.need('viewer') }, async (req, reply) => {
    const q = parseOr422(callsQuery, req.query, reply, 'invalid_query');
    if (!q) {
      count('invalid_query');
      return reply;
    }
    const f: CallFilter = { limit: q.limit };
    if (q.cursor !== undefined) {
      const key = callKeyOf(decodeCursor(q.cursor));
      if (!key) return refuse(reply, 'cursor: not a cursor of this list');
      f.after = key;
    }
    if (q.since) f.since = Date.parse(q.since);
    if (q.until) f.until = Date.parse(q.until);
    if (q.number) f.numberLast4 = q.number.replace(/\D/g, '').slice(-4);
    if (q.agent) f.agent = q.agent;
    if (q.outcome) f.outcome = q.outcome;
    if (q.transport) f.transport = q.transport;
    if (q.call_sid) f.callSid = q.call_sid;
    return listCalls(db, f);
  });

  app.get('/calls/:sid', { preHandler: guard.need('viewer') }, async (req, reply) => {
    const sid = (req.params as { sid?: string }).sid ?? '';
    const call = CALL_SID.test(sid) ? await getCall(db, sid) : undefined;
    return call ?? notFound(reply, 'call');
  });
}
