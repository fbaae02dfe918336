-- The newest checks and failed copies for the admins' metrics, without walking the whole trail
-- (a row per event, a resolve's among them) to find a kind that is rare. Partial: an index
-- only of those rows, so the writes of every other event pay nothing for it. The metrics'
-- statements name the same actions as literals (`audit_trail::recent`), which is what lets
-- both databases use these.
CREATE INDEX audit_trail_checks ON audit_trail (position)
    WHERE action IN ('CredentialValidated', 'ValidationFailed', 'ValidationInconclusive');
CREATE INDEX audit_trail_sync_failures ON audit_trail (position)
    WHERE action = 'CredentialSyncFailed';
