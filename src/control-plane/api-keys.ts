import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { actorOf, type ApiGuard } from './api-auth.js';
import { notFound, pageQuery, parseOr422 } from './api-common.js';
import { KeyNameTaken, ROLES, type KeyStore } from './keys.js';

export const keyBodySchema = z
  .object({
    name: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/,
        'letters, digits, space, _ . - (max 64), starting with a letter or digit',
      ),
    role: z.enum(ROLES),
  })
  .strict();

/** /v1/keys: admin only. A key's secret is answered once, by the POST that creates it. */
export function registerKeyRoutes(
  app: FastifyInstance,
  keys: KeyStore,
  guard: ApiGuard,
  db: Parameters<KeyStore['list']>[0],
): void {
  app.post('/keys', { preHandler: guard.need('admin') }, async (req, reply) => {
    const body = parseOr422(keyBodySchema, req.body, reply);
    if (!body) return reply;
    try {
      const created = await keys.create(actorOf(req), body.name, body.role);
      return reply.code(201).send(created);
    } catch (err) {
      if (err instanceof KeyNameTaken)
        return reply
          .code(409)
          .send({ error: 'key_name_taken', message: `a key in force is already named "${body.name}"` });
      throw err;
    }
  });

  app.get('/keys', { preHandler: guard.need('admin') }, async (req, reply) => {
    const q = pageQuery(req, reply);
    if (!q) return reply;
    return keys.list(db, q.limit, q.cursorKey === undefined ? undefined : String(q.cursorKey));
  });

  app.delete('/keys/:id', { preHandler: guard.need('admin') }, async (req, reply) => {
    const r = await keys.revoke(actorOf(req), (req.params as { id: string }).id);
    if (r === 'bootstrap')
      return reply.code(409).send({
        error: 'bootstrap_key',
        message: 'the bootstrap key is ADMIN_TOKEN: change or unset ADMIN_TOKEN and restart to replace it',
      });
    if (!r) return notFound(reply, 'key in force');
    return reply.code(200).send(r);
  });
}
