import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';

const FORM = 'application/x-www-form-urlencoded';

/**
 * Twilio posts its webhooks form-encoded, always. Any other body to a `/twilio/*` POST route is
 * refused (415, counted) in `onRequest`, before any parser reads it: the JSON and text parsers,
 * and whatever they accept, are never reachable from the Twilio-facing routes.
 */
export function registerFormOnly(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST' || !req.url.startsWith('/twilio/')) return;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === FORM) return;
    metrics.webhooksRejected.inc({ route: req.routeOptions.url ?? 'unknown', reason: 'unsupported_media_type' });
    return reply.code(415).type('text/plain').send('Unsupported Media Type');
  });
}
