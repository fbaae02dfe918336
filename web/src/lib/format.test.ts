import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  accountLabel,
  actorLabel,
  authTypeLabel,
  clientLabel,
  eventLabel,
  eventSentence,
  humanizeAction,
  localDay,
  timeAgo,
} from './format';

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
    expect(eventLabel('ApiTokenIssued')).toBe('API token created');
    expect(eventLabel('McpServerRegistered')).toBe('MCP server added');
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

describe('sentences', () => {
  it('names who acted in words', () => {
    expect(actorLabel('ada', 'ada')).toBe('You');
    expect(actorLabel('ada', 'bob')).toBe('ada');
    expect(actorLabel('scheduler')).toBe('The scheduler');
    expect(actorLabel('mcp:gw')).toBe('MCP server gw');
    expect(actorLabel('oauth-refresh')).toBe('Automatic token renewal');
  });

  it('names the browser and system, or the program', () => {
    expect(
      clientLabel(
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      ),
    ).toBe('Chrome on Linux');
    expect(
      clientLabel('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0'),
    ).toBe('Firefox on Windows');
    expect(
      clientLabel(
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      ),
    ).toBe('Safari on macOS');
    expect(
      clientLabel(
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0',
      ),
    ).toBe('Edge on Windows');
    expect(clientLabel('Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/126.0.0.0 Safari/537.36')).toBe(
      'Chrome on Linux',
    );
    expect(clientLabel('python-httpx/0.27.0')).toBe('python-httpx');
    expect(clientLabel('credledger/0.1.0 (scheduler)')).toBe('credledger');
    expect(clientLabel('')).toBeNull();
    expect(clientLabel(null)).toBeNull();
  });

  it('says what happened as a sentence', () => {
    expect(eventSentence('SecretReplaced', {}, 'ada', 'ada')).toBe('You replaced the secret');
    expect(eventSentence('CredentialUsed', { purpose: 'reveal' }, 'ada', 'ada')).toBe(
      'You revealed the secret',
    );
    expect(eventSentence('CredentialUsed', { tool: 'search_pages' }, 'mcp:gw')).toBe(
      'MCP server gw used it for search_pages',
    );
    expect(eventSentence('CredentialValidated', {}, 'scheduler')).toBe('The scheduler checked it: valid');
    expect(eventSentence('SomethingNew', {}, 'bob')).toBe('bob something new');
  });
});

describe('accountLabel', () => {
  it('names an account, or an API key by its fingerprint', () => {
    expect(accountLabel({ id: 'ws-1', displayName: 'Acme HQ', email: 'ada@acme.example' })).toBe(
      'Acme HQ · ada@acme.example',
    );
    expect(accountLabel({ id: 'key:67268320407f', displayName: null, email: null })).toBe(
      'Key fingerprint 6726 8320',
    );
    expect(accountLabel({ id: 'user-42' })).toBe('user-42');
  });
});

describe('localDay', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is today where the person is, also just after and just before midnight', () => {
    vi.useFakeTimers();
    // Built from local components, so the test holds in any time zone; away from UTC, one of
    // the two instants falls on another day in UTC (east of it the first, west the second).
    vi.setSystemTime(new Date(2026, 0, 2, 0, 30));
    expect(localDay()).toBe('2026-01-02');
    vi.setSystemTime(new Date(2026, 0, 2, 23, 30));
    expect(localDay()).toBe('2026-01-02');
    expect(localDay(new Date(2026, 11, 31, 23, 59))).toBe('2026-12-31');
  });
});
