import { describe, expect, it } from 'vitest';
import { authTypeLabel, eventLabel, humanizeAction, timeAgo } from './format';

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

describe('eventLabel', () => {
  it('says what happened in a person’s words, a reveal as a reveal', () => {
    expect(eventLabel('CredentialRegistered')).toBe('Added');
    expect(eventLabel('OAuthTokenRefreshed')).toBe('Token renewed');
    expect(eventLabel('CredentialUsed', { purpose: 'reveal', consumer: 'session' })).toBe('Secret revealed');
    expect(eventLabel('CredentialUsed', { detail: { purpose: 'reveal' } })).toBe('Secret revealed');
    expect(eventLabel('CredentialUsed', { purpose: 'resolve', tool: 'search_pages' })).toBe(
      'Used by search_pages',
    );
    expect(eventLabel('CredentialUsed', {})).toBe('Used');
    // Without a context (the audit filter's list), both kinds.
    expect(eventLabel('CredentialUsed')).toBe('Used or revealed');
    expect(eventLabel('SomethingNew')).toBe('Something new');
  });
});
