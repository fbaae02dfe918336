-- Each feed consumer's position, written in the same transaction as its effects.
CREATE TABLE projection_checkpoints (
    name       text   PRIMARY KEY,
    position   bigint NOT NULL,
    updated_at text   NOT NULL
);
