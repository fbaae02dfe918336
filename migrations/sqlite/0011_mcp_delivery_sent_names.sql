-- The names the sender's unanswered requests carried for a copy the ledger has no id for yet
-- (a JSON array of strings, newest last): what that copy can be called on the server when the
-- credential has been renamed, or erased, since. Names, never a secret.
ALTER TABLE mcp_deliveries ADD COLUMN sent_names text NOT NULL DEFAULT '[]';
