-- The version of a copy for which a drift was last recorded (`CredentialDriftedOnMcp`'s
-- ledger_version): a copy that still differs once resent at that version (a server that
-- changes what it is sent, refreshing an OAuth token itself) is not recorded and resent again
-- at every check. Kept by the mcp_sync read model from the events, so a rebuild restores it.
ALTER TABLE mcp_sync ADD COLUMN drifted_version bigint;
