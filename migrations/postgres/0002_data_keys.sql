-- One data key (DEK) per credential, stored only wrapped by a master key (KEK). Mutable and
-- outside the event stream: rotation rewraps rows; erasure destroys the wrapped key for good.
CREATE TABLE data_keys (
    dek_id        text   PRIMARY KEY,
    credential_id text   NOT NULL UNIQUE,
    kek_version   bigint NOT NULL,
    wrapped       bytea,
    created_at    text   NOT NULL,
    rotated_at    text,
    destroyed_at  text
);
CREATE INDEX data_keys_kek_version ON data_keys (kek_version);
