/**
 * The event types the audit trail shows, for the audit page's action filter, grouped as the
 * ledger's streams are: credentials (keyring and use), users and their API tokens, MCP servers.
 * Each name is the ledger's `event_type` (docs/events.md); actions.test.ts checks the list
 * against the domain's.
 */
export const AUDIT_ACTION_GROUPS = [
  {
    label: 'Credentials',
    actions: [
      'CredentialRegistered',
      'CredentialRenamed',
      'CredentialMetadataChanged',
      'SecretReplaced',
      'CredentialValidated',
      'ValidationFailed',
      'ValidationInconclusive',
      'PrimaryCredentialChanged',
      'CredentialRevoked',
      'CredentialExpired',
      'CredentialErased',
      'CredentialUsed',
      'OAuthTokenRefreshed',
      'CredentialSyncedToMcp',
      'CredentialSyncFailed',
      'CredentialRemovedFromMcp',
      'CredentialDriftedOnMcp',
    ],
  },
  {
    label: 'Users and API tokens',
    actions: [
      'UserRegistered',
      'PasswordChanged',
      'UserLocked',
      'UserUnlocked',
      'PermissionGranted',
      'PermissionRevoked',
      'ApiTokenIssued',
      'ApiTokenRevoked',
    ],
  },
  {
    label: 'MCP servers',
    actions: [
      'McpServerRegistered',
      'McpServerChanged',
      'McpServerRemoved',
      'McpAccessGranted',
      'McpAccessWithdrawn',
      'McpServerTokenIssued',
      'McpServerTokenRevoked',
      'McpReplayRequested',
    ],
  },
] as const;

/** Every event type of the action filter, in its order. */
export const AUDIT_ACTIONS = AUDIT_ACTION_GROUPS.flatMap((g) => g.actions);

/**
 * A local calendar day's first instant, or with `end` its last one, as RFC 3339 for the audit
 * filter's `from` and `to`. The server compares both inclusively, with times kept to the
 * microsecond: a day's last instant is the next local midnight less a microsecond (`.999999`;
 * a millisecond less would leave out events in the day's last 999 µs). Midnight is taken by the
 * calendar, not by adding 24 hours: a day daylight saving time shortens or lengthens ends at the
 * next day's first instant.
 */
export function dayBoundary(day: string, end: boolean): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const [y, m, d] = day.split('-').map(Number);
  // `setFullYear`, not `new Date(y, …)`: the constructor reads years 0–99 as 1900–1999.
  const start = new Date(0);
  start.setFullYear(y, m - 1, d);
  start.setHours(0, 0, 0, 0);
  // A day the calendar does not have (`2024-02-30`) is not rolled over into the next month.
  if (start.getFullYear() !== y || start.getMonth() !== m - 1 || start.getDate() !== d) {
    return null;
  }
  if (!end) return start.toISOString();
  start.setFullYear(y, m - 1, d + 1);
  start.setHours(0, 0, 0, 0);
  // A millisecond before the next day (`….999Z`), then the microseconds down to the last.
  return new Date(start.getTime() - 1).toISOString().replace(/Z$/, '999Z');
}
