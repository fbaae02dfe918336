import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { deferred, mockClient, type Answer } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { AccountPage } from './account-page';

function me(role: 'ADMIN' | 'MEMBER', apiTokens: unknown[] = []): Answer {
  return {
    data: {
      me: {
        __typename: 'Me',
        id: 'ada',
        email: 'ada@example.test',
        displayName: 'Ada Lovelace',
        role,
        permissions: [],
        apiTokens,
      },
    },
  };
}

describe('AccountPage', () => {
  it('shows a loading state, then who is signed in, the password form and the tokens', async () => {
    const answer = deferred<Answer>();
    const { client } = mockClient({ AccountPage: () => answer.promise });
    renderWithClient(<AccountPage />, client);
    expect(screen.getByRole('heading', { name: 'Account' })).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent('Loading…');
    expect(document.title).toBe('Account · credledger');

    answer.resolve(
      me('MEMBER', [
        {
          __typename: 'ApiToken',
          id: 't1',
          name: 'ci',
          scopes: ['LEDGER_READ'],
          expiresAt: null,
          revoked: false,
          createdAt: '2026-11-02T09:30:00Z',
        },
      ]),
    );
    expect(await screen.findByText('Ada Lovelace')).toBeInTheDocument();
    expect(screen.queryByText('Loading…')).not.toBeInTheDocument();
    const facts = screen.getByText('User id').closest('dl') as HTMLElement;
    const pairs = within(facts)
      .getAllByRole('term')
      .map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]);
    expect(pairs).toEqual([
      ['User id', 'ada'],
      ['Email', 'ada@example.test'],
      ['Role', 'Member'],
    ]);
    expect(screen.getByRole('form', { name: 'Change password' })).toBeInTheDocument();
    const tokens = screen.getByRole('table', { name: 'API tokens' });
    expect(within(tokens).getByRole('cell', { name: 'ci' })).toBeInTheDocument();
    expect(within(tokens).getByText('ledger:read')).toBeInTheDocument();
  });

  it('calls an administrator one', async () => {
    const { client } = mockClient({ AccountPage: () => me('ADMIN') });
    renderWithClient(<AccountPage />, client);
    const role = await screen.findByText('Administrator');
    expect(role.previousElementSibling).toHaveTextContent('Role');
    expect(screen.getByText('No API tokens')).toBeInTheDocument();
  });

  it('says why the page could not load, and loads it again on request', async () => {
    let down = true;
    const { client, calls } = mockClient({
      AccountPage: () =>
        down
          ? { errors: [{ message: 'The database is down.', extensions: { code: 'UNAVAILABLE' } }] }
          : me('MEMBER'),
    });
    renderWithClient(<AccountPage />, client);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not load this page');
    expect(alert).toHaveTextContent('The database is down.');
    expect(screen.queryByRole('form', { name: 'Change password' })).not.toBeInTheDocument();
    const before = calls.filter((c) => c.name === 'AccountPage').length;

    down = false;
    await userEvent.setup().click(within(alert).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText('Ada Lovelace')).toBeInTheDocument();
    await waitFor(() => expect(calls.filter((c) => c.name === 'AccountPage').length).toBeGreaterThan(before));
    expect(screen.queryByText('Could not load this page')).not.toBeInTheDocument();
  });
});
