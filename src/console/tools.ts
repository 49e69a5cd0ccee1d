import type { FastifyInstance } from 'fastify';
import type { BridgeContext } from '../server/context.js';
import type { ConsoleV1 } from '../control-plane/api.js';

/** Where the page's call counts come from, as it says under the list. */
export const USAGE_SOURCE = "this replica's call records: tool calls of the calls that ended in the last hour";

/** A tool of the configuration file, as the read-only list shows it (no URL, no secret). */
interface FileTool {
  name: string;
  kind: string;
  status: 'active';
  agents: string[];
}

/**
 * The console's tools and agents pages (/console/tools). With the control plane the page reads and
 * writes through /console/api/v1: the control plane's own tool, agent and audit routes mounted
 * under the console session (its key and role, api.ts consoleV1), so roles are the server's and
 * nothing of /v1 is done twice here. Without it the tools listed are the file's, read-only.
 */
export async function registerToolPages(
  scope: FastifyInstance,
  ctx: BridgeContext,
  v1: ConsoleV1 | undefined,
): Promise<void> {
  scope.get('/console/tools', async (_req, reply) => reply.type('text/html').sendFile('tools.html'));

  scope.get('/console/api/tools-overview', async () => {
    const usage = Object.fromEntries(ctx.history.toolUsage(Date.now() - 3600_000));
    if (v1) return { source: 'database', usage, usageSource: USAGE_SOURCE };
    const byName = new Map<string, FileTool>();
    for (const a of ctx.config.file.agents)
      for (const t of a.tools) {
        // the file's http executor is what the control plane calls a webhook
        const kind = t.executor.kind === 'http' ? 'webhook' : t.executor.kind;
        const f = byName.get(t.name) ?? { name: t.name, kind, status: 'active', agents: [] };
        f.agents.push(a.id);
        byName.set(t.name, f);
      }
    return { source: 'file', tools: [...byName.values()], usage, usageSource: USAGE_SOURCE };
  });

  if (v1)
    await v1(scope, '/console/api/v1', (req) => {
      const s = req.consoleSession;
      return s?.key ? { id: s.key.id, name: s.key.name, role: s.role } : undefined;
    });
}
