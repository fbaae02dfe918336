-- The newest failed copies for the admins' metrics (see 0017): rare rows, found without
-- walking the trail.
CREATE INDEX audit_trail_sync_failures ON audit_trail (position)
    WHERE action = 'CredentialSyncFailed';
