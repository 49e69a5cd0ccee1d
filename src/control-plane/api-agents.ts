import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { maskNumber } from '../observability/redact.js';
import { actorOf, type ApiGuard } from './api-auth.js';
import { notFound, pageQuery, parseOr422 } from './api-common.js';
import { AgentRouted, ConfigInvalid, type ConfigStore } from './config-store.js';
import type { Queryable } from './pool.js';

/**
 * /v1/agents, /v1/agents/{id}/tools, /v1/numbers/{e164} and /v1/capabilities. Reads: viewer;
 * writes: admin. An agent body is the file's agent without `id` (an `id` that differs from the
 * path is 422); a number's body is the file's number route. What is stored is what new calls run
 * from, on every replica (src/control-plane/runtime-config.ts, change-feed.ts).
 */

const AGENT_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const E164 = /^\+[1-9]\d{6,14}$/;
/** Setting names that would hold a secret: secret settings are not stored yet (they would need sealing). */
const SECRET_SETTING = /secret|token|password|key/i;

export const bindingsBody = z
  .array(
    z
      .object({
        tool: z.string().min(1).max(128),
        enabled: z.boolean().default(true),
        settings: z
          .record(z.string().max(64), z.union([z.string().max(4096), z.number(), z.boolean()]))
          .refine((s) => !Object.keys(s).some((k) => SECRET_SETTING.test(k)), 'secret settings are not supported yet')
          .default({}),
      })
      .strict(),
  )
  .max(128);

/** What the engine does natively: call control, not tool rows. */
export const CAPABILITIES = {
  call_control: [
    { name: 'transfer_to_human', description: "transfers the call to one of the agent's transfer targets" },
    { name: 'send_dtmf', description: 'sends DTMF digits on the call' },
    { name: 'play_hold', description: "plays the agent's hold audio" },
    { name: 'collect', description: 'collects digits from the caller' },
    { name: 'end_call', description: 'says goodbye and hangs up' },
  ],
};

function refusal(err: unknown, reply: FastifyReply): FastifyReply {
  if (err instanceof ConfigInvalid)
    return reply
      .code(422)
      .send({ error: 'invalid_body', message: 'the configuration would be invalid', issues: err.issues });
  if (err instanceof AgentRouted)
    return reply.code(409).send({
      error: 'agent_routed',
      message: 'numbers route to this agent: route them elsewhere first',
      numbers: err.numbers.map((n) => maskNumber(n)),
    });
  throw err;
}

const param = (req: { params: unknown }, name: string) => String((req.params as Record<string, string>)[name] ?? '');

export function registerAgentRoutes(app: FastifyInstance, store: ConfigStore, guard: ApiGuard, db: Queryable): void {
  app.get('/capabilities', { preHandler: guard.need('viewer') }, async () => CAPABILITIES);

  app.get('/agents', { preHandler: guard.need('viewer') }, async (req, reply) => {
    const q = pageQuery(req, reply);
    if (!q) return reply;
    return store.listAgents(db, q.limit, q.cursorKey === undefined ? undefined : String(q.cursorKey));
  });

  app.get('/agents/:id', { preHandler: guard.need('viewer') }, async (req, reply) => {
    return (await store.getAgent(param(req, 'id'))) ?? notFound(reply, 'agent');
  });

  app.put('/agents/:id', { preHandler: guard.need('admin') }, async (req, reply) => {
    const id = param(req, 'id');
    if (!AGENT_ID.test(id))
      return reply.code(422).send({
        error: 'invalid_body',
        message: 'the agent id is invalid',
        issues: ['id: letters, digits, _ and - only (max 64)'],
      });
    const body = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body))
      return reply.code(422).send({
        error: 'invalid_body',
        message: 'the body is invalid',
        issues: ['(root): an agent object is expected'],
      });
    const given = (body as Record<string, unknown>).id;
    if (given !== undefined && given !== id)
      return reply.code(422).send({
        error: 'invalid_body',
        message: 'the body is invalid',
        issues: ['id: differs from the id in the path'],
      });
    try {
      const r = await store.putAgent(actorOf(req), id, body as Record<string, unknown>);
      return reply.code(r.created ? 201 : 200).send(r.agent);
    } catch (err) {
      return refusal(err, reply);
    }
  });

  app.delete('/agents/:id', { preHandler: guard.need('admin') }, async (req, reply) => {
    try {
      const a = await store.deleteAgent(actorOf(req), param(req, 'id'));
      return a ? reply.code(200).send(a) : notFound(reply, 'agent');
    } catch (err) {
      return refusal(err, reply);
    }
  });

  app.get('/agents/:id/tools', { preHandler: guard.need('viewer') }, async (req, reply) => {
    const id = param(req, 'id');
    if (!(await store.getAgent(id))) return notFound(reply, 'agent');
    return { items: await store.bindings(db, id), next_cursor: null };
  });

  app.put('/agents/:id/tools', { preHandler: guard.need('admin') }, async (req, reply) => {
    const wanted = parseOr422(bindingsBody, req.body, reply);
    if (!wanted) return reply;
    try {
      const r = await store.putBindings(actorOf(req), param(req, 'id'), wanted);
      return r ? reply.code(200).send({ items: r, next_cursor: null }) : notFound(reply, 'agent');
    } catch (err) {
      return refusal(err, reply);
    }
  });

  app.get('/numbers', { preHandler: guard.need('viewer') }, async (req, reply) => {
    const q = pageQuery(req, reply);
    if (!q) return reply;
    return store.listNumbers(db, q.limit, q.cursorKey === undefined ? undefined : String(q.cursorKey));
  });

  app.put('/numbers/:e164', { preHandler: guard.need('admin') }, async (req, reply) => {
    const n = param(req, 'e164');
    if (!E164.test(n))
      return reply.code(422).send({
        error: 'invalid_body',
        message: 'the number is invalid',
        issues: ['e164: a routed number must be E.164, like +15551234567'],
      });
    try {
      const r = await store.putNumber(actorOf(req), n, req.body ?? {});
      return reply.code(r.created ? 201 : 200).send({ number: r.number, route: r.route });
    } catch (err) {
      return refusal(err, reply);
    }
  });

  app.delete('/numbers/:e164', { preHandler: guard.need('admin') }, async (req, reply) => {
    const ok = await store.deleteNumber(actorOf(req), param(req, 'e164'));
    return ok ? reply.code(204).send() : notFound(reply, 'routed number');
  });
}
