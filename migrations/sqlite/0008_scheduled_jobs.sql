-- Scheduled jobs run once across every instance sharing this database: a job runs only while
-- its instance holds the job's lease (taken and renewed by one atomic statement each), and only
-- when its last completed run is older than the job's interval. Times are RFC 3339 UTC text,
-- written by the instances' clocks.
CREATE TABLE leases (
    name        text PRIMARY KEY,
    -- The instance holding the lease; NULL once released.
    holder      text,
    -- The holder must renew before this, or another instance may take the lease.
    expires_at  text NOT NULL,
    -- When the last completed run started (NULL: never).
    last_run_at text
);

-- Expiry warnings delivered to the webhook (a 2xx answer), so each credential is warned once
-- per expiry. Only identifiers and times: never a secret.
CREATE TABLE expiry_notices (
    credential_id text NOT NULL,
    expires_at    text NOT NULL,
    sent_at       text NOT NULL,
    PRIMARY KEY (credential_id, expires_at)
);
