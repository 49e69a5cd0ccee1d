-- Up Migration
-- Configuration-wide settings of the control plane (default_agent, from `config import`).
CREATE TABLE config_settings (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE config_settings;
