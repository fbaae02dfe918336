import { describe, expect, it } from 'vitest';
import { authTypeLabel, humanizeAction, timeAgo } from './format';

describe('format', () => {
  const now = new Date('2026-01-01T12:00:00Z');

  it('says how long ago, or never', () => {
    expect(timeAgo(null, now)).toBe('Never');
    expect(timeAgo('2026-01-01T11:59:55Z', now)).toBe('just now');
    expect(timeAgo('2026-01-01T11:55:00Z', now)).toBe('5 minutes ago');
    expect(timeAgo('2025-12-31T12:00:00Z', now)).toBe('yesterday');
  });

  it('turns event types and auth types into words', () => {
    expect(humanizeAction('PrimaryCredentialChanged')).toBe('Primary credential changed');
    expect(humanizeAction('OAuthTokenRefreshed')).toBe('OAuth token refreshed');
    expect(authTypeLabel('OAUTH_2')).toBe('OAuth 2');
  });
});
