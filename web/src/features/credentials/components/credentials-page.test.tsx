import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router-dom';
import { afterEach, describe, expect, it } from 'vitest';
import type { CredentialStatus } from '@/gql/graphql';
import { markOffline, markOnline, resetConnectionForTests } from '@/lib/connection';
import { mockClient, type Answer } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { CredentialsPage } from './credentials-page';

function service(key: string, displayName: string, enabled = true) {
  return {
    __typename: 'Service',
    key,
    displayName,
    description: `${displayName}'s API`,
    icon: key,
    authType: 'API_TOKEN',
    multiAccount: true,
    beta: false,
    enabled,
    docsUrl: null,
    oauthAvailable: false,
    oauthProvider: null,
    oauthScopes: [],
    fields: [
      {
        __typename: 'ServiceField',
        name: 'token',
        label: 'Token',
        required: true,
        secret: true,
        format: null,
        placeholder: null,
      },
    ],
  };
}

function credential(id: string, serviceKey: string, name: string, status: CredentialStatus = 'ACTIVE') {
  return {
    __typename: 'Credential',
    id,
    owner: 'ada',
    service: serviceKey,
    name,
    status,
    isPrimary: true,
    account: null,
    metadata: {},
    lastValidatedAt: null,
    validationError: status === 'INVALID' ? 'token revoked' : null,
    lastUsedAt: null,
    useCount: 0,
    tokenExpiresAt: null,
    scopes: [],
    syncStatus: 'SYNCED',
    lastSyncedAt: null,
    syncError: null,
  };
}

function page(credentials: ReturnType<typeof credential>[]): Answer {
  return {
    data: {
      dashboard: {
        __typename: 'Dashboard',
        total: credentials.length,
        active: credentials.filter((c) => c.status === 'ACTIVE').length,
        expired: 0,
        expiringSoon: 0,
        servicesConnected: 2,
      },
      services: [service('notion', 'Notion'), service('jira', 'Jira'), service('myspace', 'MySpace', false)],
      credentials,
    },
  };
}

function setup(answers: () => Answer) {
  const { client, calls } = mockClient({ CredentialsPage: answers });
  const user = userEvent.setup();
  renderWithClient(
    <MemoryRouter>
      <CredentialsPage />
    </MemoryRouter>,
    client,
  );
  return { user, calls };
}

afterEach(() => {
  resetConnectionForTests();
});

describe('CredentialsPage', () => {
  it('keeps what it showed, and an open dialog, when a refetch fails as a whole', async () => {
    let answer = page([credential('c1', 'notion', 'Work')]);
    const { user } = setup(() => answer);
    const card = await screen.findByRole('article', { name: 'Work' });
    await user.click(within(card).getByRole('button', { name: /more actions for work/i }));
    await user.click(await screen.findByRole('menuitem', { name: 'Edit' }));
    await user.type(await screen.findByLabelText('Name'), ' laptop');

    // The server answers again and the page refetches; the answer is an error without data.
    answer = {
      errors: [
        {
          message: 'The server cannot reach its database right now.',
          extensions: { code: 'UNAVAILABLE' },
        },
      ],
    };
    act(() => {
      markOffline();
      markOnline();
    });
    expect(await screen.findByTestId('refresh-failed')).toHaveTextContent(
      'Could not refresh: The server cannot reach its database right now.',
    );
    expect(screen.getByTestId('stats')).toBeInTheDocument();
    // The page under the open dialog is hidden from the accessibility tree, not gone.
    expect(screen.getByRole('article', { name: 'Work', hidden: true })).toBeInTheDocument();
    expect(screen.getByRole('dialog', { name: 'Edit Work' })).toBeInTheDocument();
    expect(screen.getByLabelText('Name')).toHaveValue('Work laptop');

    // Its Try again asks again; the answer clears the alert.
    await user.keyboard('{Escape}');
    answer = page([credential('c1', 'notion', 'Work')]);
    await user.click(within(screen.getByTestId('refresh-failed')).getByRole('button', { name: 'Try again' }));
    await waitFor(() => expect(screen.queryByTestId('refresh-failed')).not.toBeInTheDocument());
  });

  it('offers every enabled service in the Add dialog while only the credentials needing attention are shown', async () => {
    const { user } = setup(() =>
      page([credential('c1', 'notion', 'Work'), credential('c2', 'jira', 'Board', 'INVALID')]),
    );
    await user.click(await screen.findByTestId('attention-count'));
    expect(screen.getByTestId('attention-count')).toHaveAttribute('aria-pressed', 'true');
    expect(screen.queryByRole('region', { name: 'Notion' })).not.toBeInTheDocument();
    expect(screen.getByRole('region', { name: 'Jira' })).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Add credential' }));
    const dialog = await screen.findByRole('dialog', { name: 'Add credential' });
    const options = within(within(dialog).getByLabelText('Service'))
      .getAllByRole('option')
      .map((o) => o.textContent);
    expect(options).toEqual(['Choose a service', 'Notion', 'Jira']);
  });

  it('draws the credentials of services no longer offered apart, counted, with revoke and delete but no check', async () => {
    // MySpace is disabled in the catalog; Orkut is gone from it.
    const { user } = setup(() =>
      page([
        credential('c1', 'notion', 'Work'),
        credential('c2', 'myspace', 'Old', 'INVALID'),
        credential('c3', 'orkut', 'Older'),
      ]),
    );
    const group = await screen.findByRole('region', { name: 'Services no longer offered' });
    const old = within(group).getByRole('article', { name: 'Old' });
    expect(within(group).getByRole('article', { name: 'Older' })).toBeInTheDocument();
    expect(within(screen.getByRole('region', { name: 'Services' })).getAllByRole('article')).toHaveLength(1);
    expect(screen.getByTestId('attention-count')).toHaveTextContent('Needs attention1');

    // Only what the server still allows for a disabled service: no Revalidate.
    expect(within(old).queryByRole('button', { name: 'Revalidate' })).not.toBeInTheDocument();
    await user.click(within(old).getByRole('button', { name: /more actions for old/i }));
    const items = (await screen.findAllByRole('menuitem')).map((m) => m.textContent);
    expect(items).toEqual(['Edit', 'Reveal secret', 'Revoke…', 'Delete…']);
    await user.click(screen.getByRole('menuitem', { name: 'Edit' }));
    const edit = await screen.findByRole('dialog', { name: 'Edit Old' });
    expect(within(edit).queryByLabelText('Replace the secret')).not.toBeInTheDocument();
    await user.keyboard('{Escape}');

    // The filter shows it, apart from the enabled services.
    await user.click(screen.getByTestId('attention-count'));
    expect(screen.queryByRole('region', { name: 'Services' })).not.toBeInTheDocument();
    expect(screen.getByRole('article', { name: 'Old' })).toBeInTheDocument();
    expect(screen.queryByRole('article', { name: 'Older' })).not.toBeInTheDocument();
  });

  it('turns the attention filter off once nothing needs attention', async () => {
    let answer = page([credential('c1', 'notion', 'Work'), credential('c2', 'jira', 'Board', 'INVALID')]);
    const { user } = setup(() => answer);
    await user.click(await screen.findByTestId('attention-count'));
    expect(screen.queryByRole('region', { name: 'Notion' })).not.toBeInTheDocument();

    // Board is fixed elsewhere; the page refetches.
    answer = page([credential('c1', 'notion', 'Work'), credential('c2', 'jira', 'Board')]);
    act(() => {
      markOffline();
      markOnline();
    });
    await waitFor(() => expect(screen.getByTestId('attention-count')).toHaveTextContent('Needs attention0'));
    expect(screen.getByTestId('attention-count')).toHaveAttribute('aria-pressed', 'false');

    // Work needs attention later: the page is not filtered to it unasked.
    answer = page([credential('c1', 'notion', 'Work', 'INVALID'), credential('c2', 'jira', 'Board')]);
    act(() => {
      markOffline();
      markOnline();
    });
    await waitFor(() => expect(screen.getByTestId('attention-count')).toHaveTextContent('Needs attention1'));
    expect(screen.getByTestId('attention-count')).toHaveAttribute('aria-pressed', 'false');
    expect(screen.getByRole('region', { name: 'Jira' })).toBeInTheDocument();
  });
});
