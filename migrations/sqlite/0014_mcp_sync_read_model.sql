-- The MCP servers, grants and copies become a read model of their own (`mcp_sync`, with its own
-- checkpoint), no longer part of credential_summary's. It keeps what a copy needs to know of a
-- credential in `mcp_credentials`; a credential's sync columns and the dashboard's pending and
-- failed counts are read from `mcp_sync` when asked for, so they leave the summary tables.

-- Whose credential, which service, its status and version (its keyring's sequence number at
-- its latest change, which a copy carries): kept from the keyring events.
CREATE TABLE mcp_credentials (
    credential_id  text   PRIMARY KEY,
    user_id        text   NOT NULL,
    service        text   NOT NULL,
    status         text   NOT NULL,
    ledger_version bigint NOT NULL
);
CREATE INDEX mcp_credentials_keyring ON mcp_credentials (user_id, service);
CREATE INDEX mcp_credentials_service ON mcp_credentials (service);
CREATE INDEX mcp_sync_user ON mcp_sync (user_id);

-- Taken over at the position credential_summary's consumer had written these tables to.
INSERT INTO mcp_credentials (credential_id, user_id, service, status, ledger_version)
    SELECT credential_id, user_id, service, status, ledger_version FROM credential_summary;
INSERT INTO projection_checkpoints (name, position, updated_at)
    SELECT 'mcp_sync', position, updated_at FROM projection_checkpoints
    WHERE name = 'credential_summary';

ALTER TABLE credential_summary DROP COLUMN sync_status;
ALTER TABLE credential_summary DROP COLUMN last_synced_at;
ALTER TABLE credential_summary DROP COLUMN sync_error;
ALTER TABLE dashboard_stats DROP COLUMN pending_sync;
ALTER TABLE dashboard_stats DROP COLUMN sync_errors;
