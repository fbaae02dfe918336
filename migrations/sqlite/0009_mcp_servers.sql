-- MCP servers as principals, and the replay adapter's work. Read models (`mcp_servers`,
-- `mcp_grants`, `mcp_sync` of the credential_summary consumer; `mcp_server_tokens` of the
-- principals consumer) are rebuilt from the ledger; the rest is operational state.

-- Registered MCP servers (no secret: the signing secret lives in mcp_signing_secrets).
CREATE TABLE mcp_servers (
    server_id        text   PRIMARY KEY,
    name             text   NOT NULL,
    base_url         text   NOT NULL,
    -- JSON array of service keys.
    allowed_services text   NOT NULL,
    serves_all_users bigint NOT NULL,
    removed          bigint NOT NULL DEFAULT 0,
    created_at       text   NOT NULL,
    updated_at       text   NOT NULL
);

-- A user's grant: the server may hold their credentials for one service.
CREATE TABLE mcp_grants (
    server_id  text NOT NULL,
    user_id    text NOT NULL,
    service    text NOT NULL,
    granted_at text NOT NULL,
    PRIMARY KEY (server_id, user_id, service)
);
CREATE INDEX mcp_grants_user ON mcp_grants (user_id, service);

-- Per MCP server and credential: what the server should hold, what it holds, and how the last
-- attempt went. The replay adapter's outbox: rows not `synced` are its work, in
-- `wanted_position` order. `wanted_position` (the global position of the change to mirror)
-- makes the request's idempotency key.
CREATE TABLE mcp_sync (
    server_id        text   NOT NULL,
    credential_id    text   NOT NULL,
    user_id          text   NOT NULL,
    service          text   NOT NULL,
    -- 'upsert' (hold the current state) or 'delete' (hold nothing).
    action           text   NOT NULL,
    wanted_position  bigint NOT NULL,
    -- The global position of the credential's latest change (for `mcp replay --from`).
    changed_position bigint NOT NULL,
    -- The MCP server's id for its copy, once it has one.
    mcp_id           text,
    synced_version   bigint,
    -- 'pending', 'synced', 'error' or 'out_of_sync'.
    status           text   NOT NULL,
    error            text,
    last_synced_at   text,
    PRIMARY KEY (server_id, credential_id)
);
CREATE INDEX mcp_sync_status ON mcp_sync (status, wanted_position);
CREATE INDEX mcp_sync_credential ON mcp_sync (credential_id);

-- MCP servers' API tokens: only the SHA-256 of the token is stored.
CREATE TABLE mcp_server_tokens (
    token_id   text   PRIMARY KEY,
    server_id  text   NOT NULL,
    name       text   NOT NULL,
    scopes     text   NOT NULL,
    token_hash text   NOT NULL,
    expires_at text,
    revoked    bigint NOT NULL DEFAULT 0,
    created_at text   NOT NULL
);
CREATE UNIQUE INDEX mcp_server_tokens_hash ON mcp_server_tokens (token_hash);
CREATE INDEX mcp_server_tokens_server ON mcp_server_tokens (server_id);

-- Each server's signing secret, sealed like a credential's secret (AES-256-GCM under its own
-- data key in data_keys, owned by `secret_owner`), so master-key rotation covers it.
CREATE TABLE mcp_signing_secrets (
    server_id    text PRIMARY KEY,
    secret_owner text NOT NULL,
    sealed       text NOT NULL,
    created_at   text NOT NULL
);

-- The sender's attempts for the current `wanted_position` of a mcp_sync row (reset when it
-- changes): how many, when the next may start, why the last failed. Never a secret.
CREATE TABLE mcp_deliveries (
    server_id       text   NOT NULL,
    credential_id   text   NOT NULL,
    wanted_position bigint NOT NULL,
    attempts        bigint NOT NULL,
    next_attempt_at text   NOT NULL,
    last_error      text,
    PRIMARY KEY (server_id, credential_id)
);
