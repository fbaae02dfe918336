/** The ledger's credential event types, for the audit page's action filter. */
export const AUDIT_ACTIONS = [
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
] as const;

/** A local calendar day's first (or last) instant, as RFC 3339. */
export function dayBoundary(day: string, end: boolean): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const [y, m, d] = day.split('-').map(Number);
  const date = end ? new Date(y, m - 1, d, 23, 59, 59, 999) : new Date(y, m - 1, d, 0, 0, 0, 0);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
