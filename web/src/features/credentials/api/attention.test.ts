import { describe, expect, it } from 'vitest';
import { readableSyncError } from '@/lib/format';
import { attentionReasons } from './attention';

const NOW = Date.parse('2026-12-03T10:00:00Z');

describe('attentionReasons', () => {
  it('flags an invalid, an expired and a failing-sync credential with their reasons', () => {
    expect(attentionReasons({ status: 'INVALID', validationError: 'token revoked' }, NOW)).toEqual([
      { kind: 'invalid', label: 'Invalid: token revoked' },
    ]);
    expect(attentionReasons({ status: 'EXPIRED' }, NOW).map((r) => r.kind)).toEqual(['expired']);
    expect(
      attentionReasons(
        { status: 'ACTIVE', syncStatus: 'ERROR', syncError: 'Connection refused (os error 111)' },
        NOW,
      ),
    ).toEqual([{ kind: 'syncFailed', label: 'Sync failed: Connection refused' }]);
  });

  it('flags a token expiring within a week, and nothing for a healthy or revoked one', () => {
    expect(
      attentionReasons({ status: 'ACTIVE', tokenExpiresAt: '2026-12-06T10:00:00Z' }, NOW)[0]?.label,
    ).toBe('Expires in 3 days');
    expect(attentionReasons({ status: 'ACTIVE', tokenExpiresAt: '2027-02-01T00:00:00Z' }, NOW)).toEqual([]);
    expect(attentionReasons({ status: 'ACTIVE', syncStatus: 'SYNCED' }, NOW)).toEqual([]);
    expect(attentionReasons({ status: 'REVOKED', syncStatus: 'ERROR' }, NOW)).toEqual([]);
  });

  it('says an active token whose expiry has passed is expired', () => {
    expect(attentionReasons({ status: 'ACTIVE', tokenExpiresAt: '2026-12-03T09:59:00Z' }, NOW)).toEqual([
      { kind: 'expired', label: 'Expired: replace the token' },
    ]);
    expect(
      attentionReasons({ status: 'ACTIVE', tokenExpiresAt: '2026-12-03T10:00:00Z' }, NOW).map((r) => r.kind),
    ).toEqual(['expired']);
  });

  it('counts the whole days left: within a day under 24 hours, 1 day at 25 hours', () => {
    const label = (hours: number) =>
      attentionReasons(
        { status: 'ACTIVE', tokenExpiresAt: new Date(NOW + hours * 3600_000).toISOString() },
        NOW,
      )[0]?.label;
    expect(label(1)).toBe('Expires within a day');
    expect(label(23.9)).toBe('Expires within a day');
    expect(label(24)).toBe('Expires in 1 day');
    expect(label(25)).toBe('Expires in 1 day');
    expect(label(47)).toBe('Expires in 1 day');
    expect(label(48)).toBe('Expires in 2 days');
    expect(label(7 * 24)).toBe('Expires in 7 days');
  });

  it('keeps the words of a sync error and drops the OS error number', () => {
    expect(readableSyncError('error sending request (os error 111)')).toBe('error sending request');
  });

  it('does not count a near expiry of a token that renews itself, and says to reconnect once expired', () => {
    const soon = new Date(Date.now() + 30 * 60_000).toISOString();
    expect(attentionReasons({ status: 'ACTIVE', tokenExpiresAt: soon, renews: true })).toEqual([]);
    expect(attentionReasons({ status: 'ACTIVE', tokenExpiresAt: soon }).map((r) => r.kind)).toEqual([
      'expiring',
    ]);
    expect(attentionReasons({ status: 'EXPIRED', renews: true })[0].label).toBe(
      'Expired: reconnect the account',
    );
  });
});
