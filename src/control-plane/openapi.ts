import { z } from 'zod';
import { agentSchema, numberRouteSchema } from '../config/schema.js';
import { bindingsBody } from './api-agents.js';
import { keyBodySchema } from './api-keys.js';
import { rotateBodySchema, toolBodySchema } from './tool-body.js';

/**
 * GET /v1/openapi.json (public): the API as built. Request bodies are generated from the same zod
 * schemas that validate them, so the document cannot drift from what is enforced.
 */

const json = (schema: z.ZodType) =>
  JSON.parse(JSON.stringify(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }))) as Record<
    string,
    unknown
  >;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const body = (name: string) => ({ required: true, content: { 'application/json': { schema: ref(name) } } });
const answer = (description: string, schema?: Record<string, unknown>) => ({
  description,
  ...(schema ? { content: { 'application/json': { schema } } } : {}),
});
const page = (item: string) => ({
  type: 'object',
  required: ['items', 'next_cursor'],
  properties: { items: { type: 'array', items: ref(item) }, next_cursor: { type: ['string', 'null'] } },
});
const pageParams = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'next_cursor of the previous page' },
];
const agentParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
};
const numberParam = {
  name: 'e164',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^\\+[1-9][0-9]{6,14}$' },
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const refusals = {
  '401': answer('no key, or not a key in force', ref('Error')),
  '403': answer("the key's role does not cover this", ref('Error')),
  '429': answer('more than 30 refused requests from this address this minute', ref('Error')),
};
const invalid = { '422': answer('invalid body or query (each problem with its path)', ref('InvalidBody')) };

export function openApiDocument(version: string): Record<string, unknown> {
  const toolView = {
    type: 'object',
    required: [
      'id',
      'name',
      'description',
      'parameters',
      'side_effect',
      'timeout_ms',
      'status',
      'kind',
      'has_auth_secret',
    ],
    properties: {
      id: { type: 'string', format: 'uuid' },
      name: { type: 'string' },
      description: { type: 'string' },
      parameters: { type: 'object' },
      side_effect: { enum: ['read', 'action'] },
      timeout_ms: { type: 'integer', description: 'the effective budget is min(timeout_ms, the bridge ceiling)' },
      status: { enum: ['active', 'disabled'] },
      kind: { enum: ['webhook', 'module', 'mcp'] },
      webhook: { type: 'object', description: 'the webhook executor without auth_secret, with has_auth_secret' },
      module: { type: 'object' },
      mcp: { type: 'object', description: 'the MCP executor without its token or client secret' },
      has_auth_secret: { type: 'boolean' },
      previous_signing_secret_until: { type: ['string', 'null'], format: 'date-time' },
      created_at: { type: 'string', format: 'date-time' },
      updated_at: { type: 'string', format: 'date-time' },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'omni-phone-bridge control plane',
      version,
      description:
        'Keys, tools, agents, numbers, call history and the audit trail of a bridge fleet on PostgreSQL. Every route but this document needs `Authorization: Bearer <key>`. Roles: viewer (reads except keys and audit) < operator < admin (everything). Secrets are write-only.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'string' }, message: { type: 'string' } },
        },
        InvalidBody: {
          type: 'object',
          required: ['error', 'issues'],
          properties: {
            error: { enum: ['invalid_body', 'invalid_query'] },
            message: { type: 'string' },
            issues: { type: 'array', items: { type: 'string' } },
          },
        },
        BlockedUrl: {
          type: 'object',
          required: ['error', 'rule', 'message'],
          properties: {
            error: { const: 'blocked_url' },
            rule: {
              enum: [
                'https_only',
                'credentials',
                'invalid_url',
                'loopback',
                'private',
                'link_local',
                'metadata',
                'cgnat',
                'unique_local',
                'unspecified',
                'multicast',
                'reserved',
                'documentation',
              ],
            },
            message: { type: 'string' },
          },
        },
        ToolBody: json(toolBodySchema),
        Tool: toolView,
        ToolWithSecret: {
          allOf: [
            ref('Tool'),
            {
              type: 'object',
              required: ['signing_secret'],
              properties: { signing_secret: { type: 'string', description: 'shown this once' } },
            },
          ],
        },
        RotateBody: json(rotateBodySchema),
        KeyBody: json(keyBodySchema),
        Key: {
          type: 'object',
          required: ['id', 'name', 'role'],
          properties: {
            id: { type: 'string', format: 'uuid' },
            name: { type: 'string' },
            role: { enum: ['viewer', 'operator', 'admin'] },
            created_at: { type: 'string', format: 'date-time' },
          },
        },
        KeyWithSecret: {
          allOf: [
            ref('Key'),
            {
              type: 'object',
              required: ['secret'],
              properties: { secret: { type: 'string', description: 'shown this once; only its hash is stored' } },
            },
          ],
        },
        AgentBody: json(agentSchema.omit({ id: true })),
        Agent: {
          allOf: [
            ref('AgentBody'),
            {
              type: 'object',
              required: ['id'],
              properties: {
                id: { type: 'string' },
                created_at: { type: 'string', format: 'date-time' },
                updated_at: { type: 'string', format: 'date-time' },
              },
            },
          ],
        },
        BindingsBody: json(bindingsBody),
        Binding: {
          type: 'object',
          required: ['tool_id', 'tool', 'enabled', 'settings'],
          properties: {
            tool_id: { type: 'string', format: 'uuid' },
            tool: { type: 'string' },
            enabled: { type: 'boolean', description: 'false leaves the tool out of new calls' },
            settings: { type: 'object' },
          },
        },
        NumberRouteBody: json(numberRouteSchema),
        NumberRoute: {
          type: 'object',
          required: ['number', 'route'],
          properties: { number: { type: 'string' }, route: ref('NumberRouteBody') },
        },
        AuditRow: {
          type: 'object',
          required: ['id', 'at', 'key', 'action', 'target', 'before', 'after'],
          properties: {
            id: { type: 'string' },
            at: { type: 'string', format: 'date-time' },
            key: { type: 'object', properties: { id: { type: ['string', 'null'] }, name: { type: 'string' } } },
            action: {
              type: 'string',
              examples: ['tool.create', 'tool.update', 'tool.delete', 'tool.rotate_secret', 'key.create', 'key.revoke'],
            },
            target: { type: 'string', examples: ['tool:<id>', 'key:<id>', 'call:<CallSid>'] },
            before: { description: 'secrets masked' },
            after: { description: 'secrets masked' },
          },
        },
        CallItem: {
          type: 'object',
          required: [
            'call_sid',
            'replica',
            'agent',
            'transport',
            'direction',
            'outcome',
            'caller',
            'dialed',
            'started_at',
            'ended_at',
            'duration_ms',
          ],
          properties: {
            call_sid: { type: 'string' },
            replica: { type: 'string', description: 'the replica that had the call (REPLICA_ID)' },
            agent: { type: 'string' },
            transport: { enum: ['twilio', 'sip'] },
            direction: { type: ['string', 'null'], examples: ['inbound', 'outbound-api'] },
            outcome: { type: 'string', examples: ['caller_hangup', 'agent_hangup', 'transferred', 'engine_lost'] },
            caller: {
              type: 'string',
              description: 'masked: only the last four digits are kept',
              examples: ['•••4321'],
            },
            dialed: { type: 'string', description: 'masked', examples: ['•••1111'] },
            started_at: { type: 'string', format: 'date-time' },
            ended_at: { type: 'string', format: 'date-time' },
            duration_ms: { type: 'integer' },
          },
        },
        CallDetail: {
          allOf: [
            ref('CallItem'),
            {
              type: 'object',
              required: ['record'],
              properties: {
                record: {
                  type: 'object',
                  description:
                    "the bridge's call record (the `call record` log line, src/call/record.ts), numbers masked, dtmfCount in place of the digits; transcript and tool arguments only when bridge.call_record_transcript kept them",
                },
              },
            },
          ],
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/openapi.json': {
        get: { summary: 'this document', security: [], responses: { '200': answer('OpenAPI 3.1') } },
      },
      '/v1/keys': {
        post: {
          summary: 'create a key (admin)',
          requestBody: body('KeyBody'),
          responses: {
            '201': answer('the key and its secret, shown once', ref('KeyWithSecret')),
            '409': answer('a key in force has this name', ref('Error')),
            ...invalid,
            ...refusals,
          },
        },
        get: {
          summary: 'the keys in force (admin)',
          parameters: pageParams,
          responses: { '200': answer('a page', page('Key')), ...refusals },
        },
      },
      '/v1/keys/{id}': {
        delete: {
          summary: 'revoke a key at once (admin)',
          parameters: [idParam],
          responses: {
            '200': answer('revoked', ref('Key')),
            '404': answer('no such key in force'),
            '409': answer('the bootstrap key (ADMIN_TOKEN)'),
            ...refusals,
          },
        },
      },
      '/v1/tools': {
        post: {
          summary: 'create or update a tool by name (admin)',
          description:
            'Idempotent upsert on name: 201 with signing_secret (once) when new; 200 in place, the signing secret kept and not returned. A secret omitted on update is kept.',
          requestBody: body('ToolBody'),
          responses: {
            '201': answer('created', ref('ToolWithSecret')),
            '200': answer('updated in place (or unchanged)', ref('Tool')),
            '422': answer('invalid body, or a URL the SSRF policy refuses', {
              oneOf: [ref('InvalidBody'), ref('BlockedUrl')],
            }),
            '503': answer('SECRETS_KEY is not set', ref('Error')),
            ...refusals,
          },
        },
        get: {
          summary: 'the tools, by name (viewer)',
          parameters: [...pageParams, { name: 'status', in: 'query', schema: { enum: ['active', 'disabled'] } }],
          responses: { '200': answer('a page', page('Tool')), ...refusals },
        },
      },
      '/v1/tools/{id}': {
        get: {
          summary: 'one tool (viewer)',
          parameters: [idParam],
          responses: { '200': answer('the tool', ref('Tool')), '404': answer('no such tool'), ...refusals },
        },
        patch: {
          summary: 'change fields of a tool, e.g. status (admin)',
          description: 'An executor given replaces the stored one whole (its secret kept when omitted).',
          parameters: [idParam],
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    description: {},
                    parameters: {},
                    side_effect: {},
                    timeout_ms: {},
                    status: { enum: ['active', 'disabled'] },
                    webhook: {},
                    module: {},
                    mcp: {},
                  },
                },
              },
            },
          },
          responses: { '200': answer('the tool', ref('Tool')), '404': answer('no such tool'), ...invalid, ...refusals },
        },
        delete: {
          summary: 'delete a tool (admin)',
          parameters: [idParam, { name: 'force', in: 'query', schema: { enum: ['true', 'false'] } }],
          responses: {
            '200': answer('the deleted tool', ref('Tool')),
            '409': answer('agents bind it (use ?force=true)', ref('Error')),
            '404': answer('no such tool'),
            ...refusals,
          },
        },
      },
      '/v1/tools/{id}/rotate-secret': {
        post: {
          summary: 'a new signing secret (admin)',
          description:
            'The replaced secret still signs deliveries beside the new one for grace_s seconds (default 86400, at most 7 days).',
          parameters: [idParam],
          requestBody: body('RotateBody'),
          responses: {
            '200': answer('the tool and its new signing secret, shown once', ref('ToolWithSecret')),
            '404': answer('no such tool'),
            ...invalid,
            ...refusals,
          },
        },
      },
      '/v1/calls': {
        get: {
          summary: "the fleet's finished calls, newest first (viewer)",
          description:
            'Every replica writes its finished calls here (buffered; a record arrives within seconds, or when the database returns). Pages by keyset: pass next_cursor back as cursor. An unknown parameter, a time without its offset, an empty range or a foreign cursor is 422.',
          parameters: [
            ...pageParams,
            {
              name: 'since',
              in: 'query',
              schema: { type: 'string', format: 'date-time' },
              description: 'started at or after',
            },
            {
              name: 'until',
              in: 'query',
              schema: { type: 'string', format: 'date-time' },
              description: 'started before',
            },
            {
              name: 'number',
              in: 'query',
              schema: { type: 'string', pattern: '^\\+?[\\d\\s().-]+$' },
              description: "the caller's or the dialed number, matched on its last four digits (the only ones kept)",
            },
            { name: 'agent', in: 'query', schema: agentParam.schema },
            { name: 'outcome', in: 'query', schema: { type: 'string', pattern: '^[a-z0-9_-]{1,40}$' } },
            { name: 'transport', in: 'query', schema: { enum: ['twilio', 'sip'] } },
            { name: 'call_sid', in: 'query', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
          ],
          responses: { '200': answer('a page', page('CallItem')), ...invalid, ...refusals },
        },
      },
      '/v1/calls/{sid}': {
        get: {
          summary: "one finished call's record (viewer)",
          parameters: [{ name: 'sid', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': answer('the call', ref('CallDetail')), '404': answer('no such call'), ...refusals },
        },
      },
      '/v1/calls/{sid}/hangup': {
        post: {
          summary: 'hang up a live call, on whichever replica holds it (operator)',
          parameters: [{ name: 'sid', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '202': answer('hanging up'),
            '404': answer('no such active call'),
            '409': answer('the call is already ending'),
            ...refusals,
          },
        },
      },
      '/v1/calls/{sid}/transfer': {
        post: {
          summary: "transfer a live call to one of its agent's targets (operator)",
          parameters: [{ name: 'sid', in: 'path', required: true, schema: { type: 'string' } }],
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    destination: { type: 'string', description: 'a configured target (default: the agent default)' },
                  },
                },
              },
            },
          },
          responses: { '202': answer('transferring'), '404': answer('no such active call'), ...invalid, ...refusals },
        },
      },
      '/v1/capabilities': {
        get: {
          summary: "the engine's native call control (not tool rows) (viewer)",
          responses: { '200': answer('the verbs'), ...refusals },
        },
      },
      '/v1/agents': {
        get: {
          summary: 'the agents, by id (viewer)',
          parameters: pageParams,
          responses: { '200': answer('a page', page('Agent')), ...refusals },
        },
      },
      '/v1/agents/{id}': {
        get: {
          summary: 'one agent (viewer)',
          parameters: [agentParam],
          responses: { '200': answer('the agent', ref('Agent')), '404': answer('no such agent'), ...refusals },
        },
        put: {
          summary: 'create or replace an agent (admin)',
          description:
            "The body is the configuration file's agent without id (an id that differs from the path is 422), validated with the file's schema on the whole configuration.",
          parameters: [agentParam],
          requestBody: body('AgentBody'),
          responses: {
            '201': answer('created', ref('Agent')),
            '200': answer('replaced or unchanged', ref('Agent')),
            ...invalid,
            ...refusals,
          },
        },
        delete: {
          summary: 'delete an agent and its bindings (admin)',
          parameters: [agentParam],
          responses: {
            '200': answer('the deleted agent', ref('Agent')),
            '404': answer('no such agent'),
            '409': answer('numbers route to it'),
            ...refusals,
          },
        },
      },
      '/v1/agents/{id}/tools': {
        get: {
          summary: "the agent's tool bindings (viewer)",
          parameters: [agentParam],
          responses: { '200': answer('the bindings', page('Binding')), '404': answer('no such agent'), ...refusals },
        },
        put: {
          summary: "replace the agent's tool bindings (admin)",
          parameters: [agentParam],
          requestBody: body('BindingsBody'),
          responses: {
            '200': answer('the bindings', page('Binding')),
            '404': answer('no such agent'),
            ...invalid,
            ...refusals,
          },
        },
      },
      '/v1/numbers': {
        get: {
          summary: 'the routed numbers (viewer)',
          parameters: pageParams,
          responses: { '200': answer('a page', page('NumberRoute')), ...refusals },
        },
      },
      '/v1/numbers/{e164}': {
        put: {
          summary: 'route a number to an agent or an IVR (admin)',
          parameters: [numberParam],
          requestBody: body('NumberRouteBody'),
          responses: {
            '201': answer('routed', ref('NumberRoute')),
            '200': answer('re-routed or unchanged', ref('NumberRoute')),
            ...invalid,
            ...refusals,
          },
        },
        delete: {
          summary: 'unroute a number (admin)',
          parameters: [numberParam],
          responses: { '204': answer('unrouted'), '404': answer('not routed'), ...refusals },
        },
      },
      '/v1/audit': {
        get: {
          summary: 'the audit trail, newest first (admin)',
          parameters: [
            ...pageParams,
            { name: 'action', in: 'query', schema: { type: 'string' } },
            { name: 'target', in: 'query', schema: { type: 'string' } },
          ],
          responses: { '200': answer('a page', page('AuditRow')), ...refusals },
        },
      },
    },
  };
}
