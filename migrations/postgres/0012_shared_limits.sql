-- Limits every instance on this database shares (ADR 0014, api/src/limits.rs): the API rate
-- limit and the live-check budget (GCRA: `tat_us` is when the key's budget is full again), and
-- failed sign-ins per (account, client) and per client. Unlogged: a count is not worth a WAL
-- write per request; a crash or a failover forgets them, and everyone starts with a full budget.
CREATE UNLOGGED TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat_us BIGINT NOT NULL
);

CREATE UNLOGGED TABLE sign_in_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_us BIGINT NOT NULL
);

CREATE INDEX sign_in_failures_last ON sign_in_failures (last_us);
