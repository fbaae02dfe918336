-- The ledger: cqrs-es's events table, plus a gap-free global position in commit order and a
-- hash chain. Rows are append-only.
CREATE TABLE events (
    aggregate_type  text   NOT NULL,
    aggregate_id    text   NOT NULL,
    sequence        bigint NOT NULL CHECK (sequence >= 0),
    event_type      text   NOT NULL,
    event_version   text   NOT NULL,
    payload         json   NOT NULL,
    metadata        json   NOT NULL,
    global_position bigint NOT NULL,
    prev_hash       bytea  NOT NULL,
    hash            bytea  NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX events_global_position ON events (global_position);

-- Length-prefixed UTF-8 (u32 big-endian length, then the bytes): the chain's field encoding.
CREATE FUNCTION credledger_lp(t text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT int4send(octet_length(convert_to(t, 'UTF8'))) || convert_to(t, 'UTF8') $$;

-- Position and chain. The transaction-scoped advisory lock makes every event-writing
-- transaction wait for the previous one to commit, so position order is commit order and a
-- reader that has seen position N has seen everything before it. The position is MAX + 1 under
-- that lock (not a sequence), so a rolled-back insert leaves no gap.
CREATE FUNCTION credledger_events_chain() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    last_position bigint;
    last_hash     bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(4857321190876543210);
    SELECT e.global_position, e.hash INTO last_position, last_hash
      FROM events e ORDER BY e.global_position DESC LIMIT 1;
    NEW.global_position := COALESCE(last_position, 0) + 1;
    NEW.prev_hash := COALESCE(last_hash, decode(repeat('00', 32), 'hex'));
    NEW.hash := sha256(
        convert_to('credledger.event.v1', 'UTF8')
        || int8send(NEW.global_position)
        || NEW.prev_hash
        || credledger_lp(NEW.aggregate_type)
        || credledger_lp(NEW.aggregate_id)
        || int8send(NEW.sequence)
        || credledger_lp(NEW.event_type)
        || credledger_lp(NEW.event_version)
        || credledger_lp(NEW.metadata::text)
        || sha256(convert_to(NEW.payload::text, 'UTF8')));
    RETURN NEW;
END
$$;
CREATE TRIGGER events_chain BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION credledger_events_chain();

CREATE FUNCTION credledger_events_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on events is refused', TG_OP;
END
$$;
CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION credledger_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION credledger_events_append_only();

-- Wakes feed consumers (delivered at commit, once per transaction).
CREATE FUNCTION credledger_events_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('credledger_events', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION credledger_events_notify();
