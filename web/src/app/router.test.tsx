import { cleanup, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { mockClient } from '@/test/mock-client';
import { renderWithClient, testSession } from '@/test/render';
import { AppRouter } from './router';

const allCredentials = {
  data: {
    services: [{ __typename: 'Service', key: 'notion', displayName: 'Notion' }],
    allCredentials: [
      {
        __typename: 'Credential',
        id: 'cred-grace-1',
        owner: 'grace',
        service: 'notion',
        name: 'Team wiki',
        status: 'ACTIVE',
        isPrimary: false,
        account: null,
        lastValidatedAt: null,
        lastUsedAt: null,
        useCount: 0,
        syncStatus: 'SYNCED',
        createdAt: '2026-12-01T10:00:00Z',
      },
    ],
  },
};

function open(path: string, session = testSession) {
  window.history.pushState({}, '', path);
  const { client, calls } = mockClient({ AdminAllCredentials: () => allCredentials });
  renderWithClient(<AppRouter />, client, { session });
  return { calls };
}

afterEach(() => window.history.pushState({}, '', '/'));

// credentials.view_all is what the API's `allCredentials` asks for (api/src/graphql/query.rs),
// not the admin role: a member holding it opens that page, and only that one of Administration.
describe('AppRouter', () => {
  const viewer = { ...testSession, canViewAllCredentials: true };

  it('opens All credentials, and links to it, for a member holding View all', async () => {
    open('/admin/credentials', viewer);
    expect(await screen.findByRole('cell', { name: 'Team wiki' })).toBeInTheDocument();
    expect(screen.queryByText('Administrators only')).not.toBeInTheDocument();
    const main = within(screen.getByRole('navigation', { name: 'Main' }));
    expect(main.getByRole('link', { name: 'All credentials' })).toHaveAttribute('href', '/admin/credentials');
    expect(main.queryByRole('link', { name: 'Admin' })).not.toBeInTheDocument();
  });

  it('takes a member holding View all from /admin to All credentials', async () => {
    open('/admin', viewer);
    expect(await screen.findByRole('cell', { name: 'Team wiki' })).toBeInTheDocument();
    expect(window.location.pathname).toBe('/admin/credentials');
  });

  it('keeps Users and System metrics for administrators', async () => {
    for (const path of ['/admin/users', '/admin/metrics']) {
      const { calls } = open(path, viewer);
      expect(await screen.findByText('Administrators only')).toBeInTheDocument();
      // Only the live updates every page has: no query of the page.
      expect(calls.map((c) => c.name)).toEqual(['CredentialChanged']);
      cleanup();
    }
  });

  it('keeps Administration from a member without View all', async () => {
    const { calls } = open('/admin/credentials');
    expect(await screen.findByText('Administrators only')).toBeInTheDocument();
    expect(
      within(screen.getByRole('navigation', { name: 'Main' })).queryByRole('link', {
        name: /admin|all credentials/i,
      }),
    ).not.toBeInTheDocument();
    expect(calls.filter((c) => c.name === 'AdminAllCredentials')).toEqual([]);
  });
});
