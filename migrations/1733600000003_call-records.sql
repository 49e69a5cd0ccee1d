-- Up Migration
-- Call history for the whole fleet: one row per finished call, written by the replica that had it.
-- Numbers are kept masked (•••4321) with their last four digits for the search, never whole; the
-- record's DTMF digits are not kept (how many were pressed is). `record` is the call record as the
-- bridge writes it, with the same masking (src/control-plane/call-row.ts).

CREATE TABLE call_records (
  -- byte order ("C"): the tie-break of the list's order is the same on every server, whatever its locale
  call_sid text COLLATE "C" PRIMARY KEY,
  replica text NOT NULL,
  agent text NOT NULL,
  transport text NOT NULL,
  direction text,
  outcome text NOT NULL,
  caller text NOT NULL,
  caller_last4 text NOT NULL,
  dialed text NOT NULL,
  dialed_last4 text NOT NULL,
  started_at timestamptz NOT NULL,
  ended_at timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  record jsonb NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now()
);
-- The list's order (newest first, CallSid breaking ties) and its keyset cursor; retention's scan.
CREATE INDEX call_records_started ON call_records (started_at DESC, call_sid DESC);
CREATE INDEX call_records_agent ON call_records (agent, started_at DESC, call_sid DESC);
CREATE INDEX call_records_caller ON call_records (caller_last4, started_at DESC);
CREATE INDEX call_records_dialed ON call_records (dialed_last4, started_at DESC);

-- Down Migration
DROP TABLE call_records;
