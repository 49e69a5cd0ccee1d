import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { issueLines, strictKeysErrorMap } from '../config/suggest.js';
import { maskForPage } from '../observability/redact.js';
import { decodeCursor, pageQuerySchema } from './pagination.js';

/** What every /v1 handler shares: body and query validation with readable 422s, pagination. */

export interface InvalidBody {
  error: 'invalid_body' | 'invalid_query';
  message: string;
  /** one line per problem: `path: message` (an unknown key with "did you mean") */
  issues: string[];
}

/** The parsed value, or undefined after answering 422 (the whole write is refused). */
export function parseOr422<S extends z.ZodType>(
  schema: S,
  value: unknown,
  reply: FastifyReply,
  kind: InvalidBody['error'] = 'invalid_body',
): z.output<S> | undefined {
  const r = schema.safeParse(value ?? {}, { error: strictKeysErrorMap });
  if (r.success) return r.data;
  // A value may echo in a message (a bad number): phone numbers are masked as everywhere.
  const issues = issueLines(r.error.issues)
    .slice(0, 20)
    .map((l) => maskForPage(l));
  void reply
    .code(422)
    .send({ error: kind, message: `the ${kind === 'invalid_body' ? 'body' : 'query'} is invalid`, issues });
  return undefined;
}

export interface PageQuery {
  limit: number;
  cursorKey?: string | number;
}

/** ?limit=1..500&cursor=… (other query parameters are the route's); undefined after answering 422. */
export function pageQuery(req: FastifyRequest, reply: FastifyReply): PageQuery | undefined {
  const q = parseOr422(pageQuerySchema, req.query, reply, 'invalid_query');
  if (!q) return undefined;
  if (q.cursor === undefined) return { limit: q.limit };
  const key = decodeCursor(q.cursor);
  if (key === undefined) {
    void reply
      .code(422)
      .send({ error: 'invalid_query', message: 'the query is invalid', issues: ['cursor: not a cursor of this list'] });
    return undefined;
  }
  return { limit: q.limit, cursorKey: key };
}

export function notFound(reply: FastifyReply, what: string): FastifyReply {
  return reply.code(404).send({ error: 'not_found', message: `no ${what} with this id` });
}
