-- A server's copy by the server's own id for it: the sender looks up whether an id a create was
-- answered with is already another credential's copy, once per create.
CREATE INDEX mcp_sync_copy ON mcp_sync (server_id, mcp_id);
