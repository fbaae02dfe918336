-- One row per ledger event: who did what, from where, and what changed (non-secret values).
CREATE TABLE audit_trail (
    position      bigint  PRIMARY KEY,
    occurred_at   text    NOT NULL,
    aggregate_type text   NOT NULL,
    aggregate_id  text    NOT NULL,
    credential_id text,
    user_id       text,
    service       text,
    action        text    NOT NULL,
    actor         text    NOT NULL,
    ip            text,
    user_agent    text,
    request_id    text,
    success       integer NOT NULL,
    error         text,
    old_values    text    NOT NULL DEFAULT '{}',
    new_values    text    NOT NULL DEFAULT '{}',
    context       text    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_trail_credential ON audit_trail (credential_id, position);
CREATE INDEX audit_trail_user ON audit_trail (user_id, position);
