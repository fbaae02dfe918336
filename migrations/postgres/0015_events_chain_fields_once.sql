-- The same position and chain as 0001 (the same hash, byte for byte; `credledger ledger verify`
-- recomputes it), with each field converted to UTF-8 once instead of twice through
-- credledger_lp: the trigger runs for every event, in the group writer's transaction, and this
-- takes about a third of its time off (docs/performance.md, ninth sitting).
CREATE OR REPLACE FUNCTION credledger_events_chain() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    last_position  bigint;
    last_hash      bytea;
    aggregate_type bytea := convert_to(NEW.aggregate_type, 'UTF8');
    aggregate_id   bytea := convert_to(NEW.aggregate_id, 'UTF8');
    event_type     bytea := convert_to(NEW.event_type, 'UTF8');
    event_version  bytea := convert_to(NEW.event_version, 'UTF8');
    metadata       bytea := convert_to(NEW.metadata::text, 'UTF8');
BEGIN
    PERFORM pg_advisory_xact_lock(4857321190876543210);
    SELECT e.global_position, e.hash INTO last_position, last_hash
      FROM events e ORDER BY e.global_position DESC LIMIT 1;
    NEW.global_position := COALESCE(last_position, 0) + 1;
    NEW.prev_hash := COALESCE(last_hash, decode(repeat('00', 32), 'hex'));
    -- Each text field length-prefixed (u32 big-endian byte length, then the bytes).
    NEW.hash := sha256(
        convert_to('credledger.event.v1', 'UTF8')
        || int8send(NEW.global_position)
        || NEW.prev_hash
        || int4send(octet_length(aggregate_type)) || aggregate_type
        || int4send(octet_length(aggregate_id)) || aggregate_id
        || int8send(NEW.sequence)
        || int4send(octet_length(event_type)) || event_type
        || int4send(octet_length(event_version)) || event_version
        || int4send(octet_length(metadata)) || metadata
        || sha256(convert_to(NEW.payload::text, 'UTF8')));
    RETURN NEW;
END
$$;
