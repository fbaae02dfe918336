-- no-transaction
-- The newest checks for the admins' metrics, without walking the whole trail (a row per event,
-- a resolve's among them). Partial: an index only of those rows, so the writes of every other
-- event pay nothing for it. The metrics' statement names the same actions as literals
-- (`audit_trail::recent`), which is what lets the database use it. Built concurrently, outside
-- a transaction (one statement per migration for that): the trail is the largest table, and
-- instances still running go on writing it meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_trail_checks ON audit_trail (position)
    WHERE action IN ('CredentialValidated', 'ValidationFailed', 'ValidationInconclusive');
