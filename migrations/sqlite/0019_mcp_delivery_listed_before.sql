-- The ids of the copies of the user and service an MCP server listed, unclaimed by the ledger,
-- before the sender's first create of a change (a JSON array of strings): copies that were
-- there before it (a person's own, made without credledger, perhaps under the same name), which
-- a later look for the copy an unanswered create left must never take for it. Ids, never a
-- secret. '[]' in a delivery an older version started: its sent names alone decide, as then.
ALTER TABLE mcp_deliveries ADD COLUMN listed_before text NOT NULL DEFAULT '[]';
