import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { actorOf, type ApiGuard } from './api-auth.js';
import { notFound, pageQuery, parseOr422 } from './api-common.js';
import { rotateBodySchema, toolBodySchema, toolPatchSchema, type ToolBody } from './tool-body.js';
import { bodyOf, SecretsKeyMissing, ToolBound, ToolInputError, type ToolStore } from './tools-store.js';
import { blockedUrl, type BlockedUrl } from './url-policy.js';

/**
 * /v1/tools. Reads: viewer. Writes: admin. A webhook's (or an MCP server's) URL is checked
 * against the SSRF policy before anything is stored: 422 `{error: "blocked_url", rule, message}`.
 */

const listQuery = z.object({ status: z.enum(['active', 'disabled']).optional() }).loose();

function urlProblem(b: ToolBody, allowHosts: ReadonlySet<string>): BlockedUrl | undefined {
  if (b.webhook) return blockedUrl(b.webhook.url, allowHosts, 'webhook.url');
  if (b.mcp) {
    const auth = b.mcp.auth;
    return (
      blockedUrl(b.mcp.url, allowHosts, 'mcp.url') ??
      (auth.kind === 'oauth2_client_credentials'
        ? blockedUrl(auth.token_url, allowHosts, 'mcp.auth.token_url')
        : undefined)
    );
  }
  return undefined;
}

/** The store's refusals as answers; anything else goes on to the error handler. */
function storeRefusal(err: unknown, reply: FastifyReply): FastifyReply {
  if (err instanceof ToolInputError)
    return reply
      .code(422)
      .send({ error: 'invalid_body', message: 'the body is invalid', issues: [`${err.path}: ${err.message}`] });
  if (err instanceof SecretsKeyMissing)
    return reply.code(503).send({ error: 'secrets_key_missing', message: err.message });
  if (err instanceof ToolBound)
    return reply.code(409).send({
      error: 'tool_bound',
      message: 'agents bind this tool: unbind it first, or DELETE with ?force=true (the bindings go with it)',
      agents: err.agents,
    });
  throw err;
}

const idOf = (req: { params: unknown }) => (req.params as { id: string }).id;

export function registerToolRoutes(
  app: FastifyInstance,
  tools: ToolStore,
  guard: ApiGuard,
  allowHosts: ReadonlySet<string>,
  db: Parameters<ToolStore['list']>[0],
): void {
  app.post('/tools', { preHandler: guard.need('admin') }, async (req, reply) => {
    const body = parseOr422(toolBodySchema, req.body, reply);
    if (!body) return reply;
    const blocked = urlProblem(body, allowHosts);
    if (blocked) return reply.code(422).send(blocked);
    try {
      const r = await tools.upsert(actorOf(req), body);
      return r.created
        ? reply.code(201).send({ ...r.tool, signing_secret: r.signing_secret })
        : reply.code(200).send(r.tool);
    } catch (err) {
      return storeRefusal(err, reply);
    }
  });

  app.get('/tools', { preHandler: guard.need('viewer') }, async (req, reply) => {
    const q = pageQuery(req, reply);
    if (!q) return reply;
    const f = parseOr422(listQuery, req.query, reply, 'invalid_query');
    if (!f) return reply;
    return tools.list(db, q.limit, q.cursorKey === undefined ? undefined : String(q.cursorKey), f.status);
  });

  app.get('/tools/:id', { preHandler: guard.need('viewer') }, async (req, reply) => {
    const t = await tools.get(idOf(req));
    return t ?? notFound(reply, 'tool');
  });

  app.patch('/tools/:id', { preHandler: guard.need('admin') }, async (req, reply) => {
    const patch = parseOr422(toolPatchSchema, req.body, reply);
    if (!patch) return reply;
    let refused: FastifyReply | undefined;
    try {
      const r = await tools.patch(actorOf(req), idOf(req), (current) => {
        const merged = bodyOf(current);
        const executorGiven = ['webhook', 'module', 'mcp'].some((k) => k in patch);
        if (executorGiven) for (const k of ['webhook', 'module', 'mcp']) delete merged[k];
        Object.assign(merged, patch);
        const body = parseOr422(toolBodySchema, merged, reply);
        const blocked = body && urlProblem(body, allowHosts);
        if (!body || blocked) {
          if (blocked) refused = reply.code(422).send(blocked);
          else refused = reply;
          throw new PatchRefused();
        }
        return body;
      });
      return r ? reply.code(200).send(r.tool) : notFound(reply, 'tool');
    } catch (err) {
      if (err instanceof PatchRefused && refused) return refused;
      return storeRefusal(err, reply);
    }
  });

  app.delete('/tools/:id', { preHandler: guard.need('admin') }, async (req, reply) => {
    const force = (req.query as { force?: string }).force === 'true';
    try {
      const t = await tools.remove(actorOf(req), idOf(req), force);
      return t ? reply.code(200).send(t) : notFound(reply, 'tool');
    } catch (err) {
      return storeRefusal(err, reply);
    }
  });

  app.post('/tools/:id/rotate-secret', { preHandler: guard.need('admin') }, async (req, reply) => {
    const body = parseOr422(rotateBodySchema, req.body, reply);
    if (!body) return reply;
    try {
      const r = await tools.rotateSigningSecret(actorOf(req), idOf(req), body.grace_s);
      return r ? reply.code(200).send({ ...r.tool, signing_secret: r.signing_secret }) : notFound(reply, 'tool');
    } catch (err) {
      return storeRefusal(err, reply);
    }
  });
}

/** A PATCH whose merged body was refused (the answer is already sent): rolls its transaction back. */
class PatchRefused extends Error {}
