-- Counts per user and service; per-user and overall figures are sums over these rows.
CREATE TABLE dashboard_stats (
    user_id      text   NOT NULL,
    service      text   NOT NULL,
    total        bigint NOT NULL,
    active       bigint NOT NULL,
    inactive     bigint NOT NULL,
    invalid      bigint NOT NULL,
    expired      bigint NOT NULL,
    revoked      bigint NOT NULL,
    pending_sync bigint NOT NULL,
    sync_errors  bigint NOT NULL,
    PRIMARY KEY (user_id, service)
);
