-- Up Migration
-- Agents and number routes (issue 30): each the file's own shape, validated by the file's schema before it is stored.

CREATE TABLE agents (
  id text PRIMARY KEY,
  -- the file's agent without its id, as validated (defaults filled)
  body jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE numbers (
  e164 text PRIMARY KEY CHECK (e164 ~ '^\+[1-9][0-9]{6,14}$'),
  route jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A binding belongs to an agent: deleting the agent deletes its bindings.
DELETE FROM agent_tools WHERE agent_id NOT IN (SELECT id FROM agents);
ALTER TABLE agent_tools ADD CONSTRAINT agent_tools_agent FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE;

-- Down Migration
ALTER TABLE agent_tools DROP CONSTRAINT agent_tools_agent;
DROP TABLE numbers;
DROP TABLE agents;
