-- People and their machine tokens, as read models of the `User` aggregate's events.
CREATE TABLE users (
    user_id      text   PRIMARY KEY,
    email        text   NOT NULL,
    display_name text   NOT NULL,
    role         text   NOT NULL,
    locked       bigint NOT NULL DEFAULT 0,
    permissions  text   NOT NULL DEFAULT '[]',
    created_at   text   NOT NULL,
    updated_at   text   NOT NULL
);
-- Not unique: a read model must never refuse an event (two registrations racing past the
-- email check would stop the consumer); sign-in by email takes the oldest account.
CREATE INDEX users_email ON users (email);

-- API tokens: only the SHA-256 of the token is ever stored.
CREATE TABLE api_tokens (
    token_id    text   PRIMARY KEY,
    user_id     text   NOT NULL,
    name        text   NOT NULL,
    scopes      text   NOT NULL,
    token_hash  text   NOT NULL,
    expires_at  text,
    revoked     bigint NOT NULL DEFAULT 0,
    created_at  text   NOT NULL
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Password hashes (argon2id, PHC strings) live outside the event stream, like data keys: a
-- change replaces the row, so old hashes are not kept forever in an append-only history.
CREATE TABLE passwords (
    user_id    text PRIMARY KEY,
    hash       text NOT NULL,
    updated_at text NOT NULL
);

-- Browser sessions: the SHA-256 of the cookie's random value, never the value itself.
CREATE TABLE sessions (
    session_hash text PRIMARY KEY,
    user_id      text NOT NULL,
    created_at   text NOT NULL,
    expires_at   text NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
