-- The ledger: cqrs-es's events table, plus a gap-free global position in commit order and a
-- hash chain. SQLite has one writer at a time, so MAX + 1 inside the inserting transaction is
-- commit order. credledger_event_hash() is registered by credledger on every connection.
CREATE TABLE events (
    aggregate_type  text    NOT NULL,
    aggregate_id    text    NOT NULL,
    sequence        integer NOT NULL CHECK (sequence >= 0),
    event_type      text    NOT NULL,
    event_version   text    NOT NULL,
    payload         text    NOT NULL,
    metadata        text    NOT NULL,
    global_position integer,
    prev_hash       blob,
    hash            blob,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) STRICT;
CREATE UNIQUE INDEX events_global_position ON events (global_position);

CREATE TRIGGER events_chain AFTER INSERT ON events
BEGIN
    UPDATE events SET
        global_position = (SELECT COALESCE(MAX(global_position), 0) + 1 FROM events),
        prev_hash = COALESCE(
            (SELECT e.hash FROM events e
              WHERE e.global_position = (SELECT MAX(global_position) FROM events)),
            zeroblob(32))
     WHERE rowid = NEW.rowid;
    UPDATE events SET
        hash = credledger_event_hash(global_position, prev_hash, aggregate_type, aggregate_id,
                                     sequence, event_type, event_version, metadata, payload)
     WHERE rowid = NEW.rowid;
END;

-- Only the chain trigger above may fill a row's position and hash, once.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    WHEN OLD.hash IS NOT NULL
      OR (OLD.global_position IS NOT NULL AND NEW.global_position IS NOT OLD.global_position)
      OR NEW.payload IS NOT OLD.payload OR NEW.metadata IS NOT OLD.metadata
      OR NEW.event_type IS NOT OLD.event_type OR NEW.aggregate_id IS NOT OLD.aggregate_id
      OR NEW.sequence IS NOT OLD.sequence
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on events is refused');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: DELETE on events is refused');
END;
