import { readableSyncError } from '@/lib/format';
import type { CredentialStatus, SyncStatus } from '@/gql/graphql';

/** The part of a credential that says whether it needs the person's attention. */
export interface AttentionInput {
  status: CredentialStatus;
  validationError?: string | null;
  tokenExpiresAt?: string | null;
  syncStatus?: SyncStatus | null;
  syncError?: string | null;
  /** Its token is renewed automatically (OAuth): a near expiry is routine, not a concern. */
  renews?: boolean;
}

export interface AttentionReason {
  kind: 'invalid' | 'expired' | 'expiring' | 'syncFailed';
  /** A short sentence a person reads on the badge. */
  label: string;
}

const DAY_MS = 24 * 3600 * 1000;
const EXPIRING_WINDOW_MS = 7 * DAY_MS;

/** Why a credential needs attention, most serious first; empty when it does not. */
export function attentionReasons(c: AttentionInput, now = Date.now()): AttentionReason[] {
  const reasons: AttentionReason[] = [];
  if (c.status === 'INVALID') {
    reasons.push({
      kind: 'invalid',
      label: c.validationError ? `Invalid: ${c.validationError}` : 'Invalid: the provider refused it',
    });
  }
  if (c.status === 'EXPIRED') {
    reasons.push({
      kind: 'expired',
      label: c.renews ? 'Expired: reconnect the account' : 'Expired: replace the token',
    });
  }
  if (c.status === 'ACTIVE' && c.tokenExpiresAt && !c.renews) {
    const left = Date.parse(c.tokenExpiresAt) - now;
    if (left <= 0) {
      // Past its expiry before the server's expiry job marked it EXPIRED.
      reasons.push({ kind: 'expired', label: 'Expired: replace the token' });
    } else if (left <= EXPIRING_WINDOW_MS) {
      // Whole days left, as a person counts them: 25 hours is one day, under 24 hours none.
      const days = Math.floor(left / DAY_MS);
      reasons.push({
        kind: 'expiring',
        label: days < 1 ? 'Expires within a day' : `Expires in ${days} ${days === 1 ? 'day' : 'days'}`,
      });
    }
  }
  if (c.status !== 'REVOKED' && c.syncStatus === 'ERROR') {
    reasons.push({
      kind: 'syncFailed',
      label: c.syncError ? `Sync failed: ${readableSyncError(c.syncError)}` : 'Sync failed',
    });
  }
  return reasons;
}
