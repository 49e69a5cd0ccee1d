-- Up Migration
-- The control plane's first schema (issue 30): API keys, tools, agents' bindings of tools, the audit trail.
-- Secrets are never stored in clear: a secret column holds "v1.<key id>.<nonce>.<ciphertext>" (src/control-plane/secrets.ts),
-- an API key only its SHA-256.

CREATE TABLE api_keys (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  secret_hash bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
-- A name is unique among the keys in force; a revoked key's name may be given again.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE tools (
  id uuid PRIMARY KEY,
  name text NOT NULL UNIQUE,
  description text NOT NULL,
  parameters jsonb NOT NULL,
  side_effect text NOT NULL CHECK (side_effect IN ('read', 'action')),
  timeout_ms integer NOT NULL CHECK (timeout_ms BETWEEN 100 AND 15000),
  kind text NOT NULL CHECK (kind IN ('webhook', 'module', 'mcp')),
  -- the executor without its secret (that is auth_secret, sealed)
  executor jsonb NOT NULL,
  auth_secret text,
  signing_secret text NOT NULL,
  previous_signing_secret text,
  previous_signing_until timestamptz,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- An agent's use of a tool (the agents themselves come with the agents API).
CREATE TABLE agent_tools (
  agent_id text NOT NULL,
  tool_id uuid NOT NULL REFERENCES tools (id) ON DELETE CASCADE,
  enabled boolean NOT NULL DEFAULT true,
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (agent_id, tool_id)
);
CREATE INDEX agent_tools_tool ON agent_tools (tool_id);

CREATE TABLE audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  key_id uuid,
  key_name text NOT NULL,
  action text NOT NULL,
  target text NOT NULL,
  before jsonb,
  after jsonb
);

-- Down Migration
DROP TABLE audit;
DROP TABLE agent_tools;
DROP TABLE tools;
DROP TABLE api_keys;
