-- Feed wake-ups carry the newest global position the insert wrote. A consumer that has already
-- applied it (its own process's commit, which it also hears of in-process, first) skips the
-- wake-up instead of reading the feed for nothing.
CREATE OR REPLACE FUNCTION credledger_events_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('credledger_events',
        (SELECT CAST(COALESCE(MAX(global_position), 0) AS text) FROM inserted));
    RETURN NULL;
END
$$;
DROP TRIGGER events_notify ON events;
CREATE TRIGGER events_notify AFTER INSERT ON events
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION credledger_events_notify();
