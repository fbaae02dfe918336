-- usage_by_service: how many times credentials of each service were used (resolved by an MCP
-- server or a machine, revealed to their owner), per UTC day. Counts only: no secret, no person.
CREATE TABLE usage_by_service (
    service text   NOT NULL,
    day     text   NOT NULL,
    uses    bigint NOT NULL,
    PRIMARY KEY (service, day)
);
