import type { FastifyInstance } from 'fastify';
import type { Logger } from '../observability/logger.js';
import { ApiGuard, type KeyOf, type RefusalReason } from './api-auth.js';
import { registerAgentRoutes } from './api-agents.js';
import { registerAuditRoutes } from './api-audit.js';
import { registerCallRoutes, type LiveCalls } from './api-calls.js';
import { registerHistoryRoutes } from './api-history.js';
import { registerKeyRoutes } from './api-keys.js';
import { registerToolRoutes } from './api-tools.js';
import type { ControlPlane } from './control-plane.js';
import { openApiDocument } from './openapi.js';

export interface ApiOptions {
  logger: Logger;
  /** bridge.tool_allow_hosts of BRIDGE_CONFIG: hosts the SSRF policy lets through (development only) */
  allowHosts: readonly string[];
  /** counts a refused request (metrics) */
  countRefusal: (reason: RefusalReason) => void;
  version: string;
  /** the operator's hang-up and transfer (the bridge's fleet-wide call control) */
  calls: LiveCalls;
}

/**
 * The /v1 API, in its own Fastify scope: JSON errors (the app's other routes answer text), an
 * unknown /v1 path a JSON 404. Registered only when DATABASE_URL is set (src/server/app.ts).
 */
export async function registerControlPlaneApi(app: FastifyInstance, cp: ControlPlane, opts: ApiOptions): Promise<void> {
  const guard = new ApiGuard(cp.keys, opts.logger, opts.countRefusal);
  const allowHosts = new Set(opts.allowHosts.map((h) => h.toLowerCase()));
  const doc = openApiDocument(opts.version);
  await app.register(
    async (v1) => {
      answerJsonErrors(v1, opts.logger);
      v1.get('/openapi.json', async () => doc);
      registerKeyRoutes(v1, cp.keys, guard, cp.pool);
      registerToolRoutes(v1, cp.tools, guard, allowHosts, cp.pool);
      registerAuditRoutes(v1, cp.pool, guard);
      registerCallRoutes(v1, opts.calls, cp.pool, guard);
      registerHistoryRoutes(v1, cp.pool, guard, opts.countRefusal);
      registerAgentRoutes(v1, cp.config, guard, cp.pool);
    },
    { prefix: '/v1' },
  );
}

/** The console's share of /v1 (tools, agents and bindings, audit). */
export type ConsoleV1 = (app: FastifyInstance, prefix: string, keyOf: KeyOf) => Promise<void>;

/**
 * The same /v1 routes of tools, agents and the audit, mounted under `prefix` in the console's
 * scope: the same handlers and role checks, the key being the console session's (`keyOf`)
 * instead of a bearer, so a page never holds an API key and the server decides what each role may do.
 */
export function consoleV1(cp: ControlPlane, opts: Omit<ApiOptions, 'version' | 'calls'>): ConsoleV1 {
  const allowHosts = new Set(opts.allowHosts.map((h) => h.toLowerCase()));
  return async (app, prefix, keyOf) => {
    const guard = new ApiGuard(cp.keys, opts.logger, opts.countRefusal, Date.now, keyOf);
    await app.register(
      async (v1) => {
        answerJsonErrors(v1, opts.logger);
        registerToolRoutes(v1, cp.tools, guard, allowHosts, cp.pool);
        registerAuditRoutes(v1, cp.pool, guard);
        registerAgentRoutes(v1, cp.config, guard, cp.pool);
      },
      { prefix },
    );
  };
}

/** JSON errors (the app's other routes answer text), an unknown path a JSON 404; a pg error's text never answered. */
function answerJsonErrors(v1: FastifyInstance, logger: Logger): void {
  v1.setErrorHandler((err: { statusCode?: number; code?: string; message?: string }, req, reply) => {
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (code === 500) {
      // a pg error's text may quote a value: only its code is logged and nothing is answered
      logger.error({ code: err.code, route: req.routeOptions?.url }, 'control plane request failed');
      return reply
        .code(503)
        .send({ error: 'unavailable', message: 'the control plane could not complete the request; retry' });
    }
    return reply.code(code).send({
      error: code === 415 ? 'unsupported_media_type' : 'bad_request',
      message: 'the request could not be read (JSON body expected)',
    });
  });
  v1.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not_found', message: 'no such /v1 route' }));
}
