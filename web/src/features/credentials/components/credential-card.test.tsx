import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeFragmentData } from '@/gql';
import type { CredentialCard_CredentialFragment as CardData } from '@/gql/graphql';
import { mockClient, type Responder } from '@/test/mock-client';
import { renderWithClient, testSession } from '@/test/render';
import { browser } from '../api/oauth';
import { CredentialCard, CredentialCardFragment, credentialActions } from './credential-card';

function credential(overrides: Partial<CardData> = {}) {
  const base: CardData = {
    __typename: 'Credential',
    id: 'cred-1',
    owner: 'ada',
    service: 'notion',
    name: 'Work',
    status: 'ACTIVE',
    isPrimary: true,
    account: { __typename: 'AccountIdentity', id: 'ws-1', displayName: 'Acme HQ', email: 'ada@acme.example' },
    metadata: {},
    lastValidatedAt: new Date(Date.now() - 5 * 60_000).toISOString(),
    validationError: null,
    lastUsedAt: null,
    useCount: 0,
    tokenExpiresAt: null,
    scopes: [],
    syncStatus: 'SYNCED',
    lastSyncedAt: null,
    syncError: null,
  };
  return makeFragmentData({ ...base, ...overrides }, CredentialCardFragment);
}

const fields = [
  { name: 'token', label: 'Internal integration token', required: true, secret: true, format: null },
];

function setup(
  data = credential(),
  responders: Record<string, Responder> = {},
  session = testSession,
  oauthProvider: string | null = null,
) {
  const { client, calls } = mockClient(responders);
  const user = userEvent.setup();
  renderWithClient(
    <CredentialCard credential={data} serviceName="Notion" fields={fields} oauthProvider={oauthProvider} />,
    client,
    { session },
  );
  const card = screen.getByTestId('credential-card');
  /** The action in view, then the menu's items, by name. */
  const actions = async () => {
    const group = within(card).getByRole('group', { name: /actions for/i });
    const main = within(group).getAllByRole('button')[0].textContent?.trim();
    await user.click(within(group).getByRole('button', { name: /more actions for/i }));
    const items = (await screen.findAllByRole('menuitem')).map((i) => i.textContent?.trim());
    await user.keyboard('{Escape}');
    return [main, ...items];
  };
  return { user, calls, card, actions };
}

afterEach(() => {
  vi.useRealTimers();
});

/** Opens the card's menu and picks `name`. */
async function choose(user: ReturnType<typeof userEvent.setup>, name: string) {
  await user.click(screen.getByRole('button', { name: /more actions for/i }));
  await user.click(await screen.findByRole('menuitem', { name }));
}

describe('CredentialCard', () => {
  it('shows status, account, primary marker, last validated, last used and sync status', () => {
    const { card } = setup();
    expect(within(card).getByRole('heading', { name: 'Work' })).toBeInTheDocument();
    expect(within(card).getByText('Active')).toBeInTheDocument();
    expect(within(card).getByTestId('primary-badge')).toHaveTextContent('Primary');
    expect(within(card).getByText('Acme HQ · ada@acme.example')).toBeInTheDocument();
    expect(within(card).getByText('5 minutes ago')).toBeInTheDocument();
    expect(within(card).getByText('Never')).toBeInTheDocument();
    expect(within(card).getByText('Synced')).toBeInTheDocument();
  });

  it('offers "Set as primary" only on an active credential that is not primary, the rest in a menu', async () => {
    const { actions } = setup(credential({ isPrimary: false }));
    expect(screen.queryByTestId('primary-badge')).not.toBeInTheDocument();
    expect(await actions()).toEqual([
      'Set as primary',
      'Revalidate',
      'Edit',
      'Reveal secret',
      'History',
      'Revoke…',
      'Delete…',
    ]);
  });

  it('does not offer "Set as primary" on the primary credential', async () => {
    const { actions } = setup();
    expect(await actions()).toEqual(['Revalidate', 'Edit', 'Reveal secret', 'History', 'Revoke…', 'Delete…']);
  });

  it('keeps the destructive actions apart, after a separator', async () => {
    const { user } = setup();
    await user.click(screen.getByRole('button', { name: /more actions for/i }));
    const menu = await screen.findByRole('menu');
    const children = Array.from(menu.children).map((c) => c.getAttribute('role') ?? '');
    expect(children.slice(-3)).toEqual(['separator', 'menuitem', 'menuitem']);
  });

  it('shows an invalid credential with its reason and no "Set as primary"', async () => {
    const { card, actions } = setup(
      credential({ status: 'INVALID', isPrimary: false, validationError: 'API token is invalid.' }),
    );
    expect(within(card).getByText('Invalid')).toBeInTheDocument();
    expect(within(card).getByTestId('attention-badge')).toHaveTextContent('Invalid: API token is invalid.');
    const offered = await actions();
    expect(offered).not.toContain('Set as primary');
    expect(offered).toContain('Revalidate');
  });

  it('shows a failed sync as a badge with its reason, not a tooltip', () => {
    const { card } = setup(
      credential({ status: 'ACTIVE', syncStatus: 'ERROR', syncError: 'connection refused (os error 111)' }),
    );
    expect(card).toHaveAttribute('data-attention', 'true');
    expect(within(card).getByTestId('attention-badge')).toHaveTextContent('Sync failed: connection refused');
    expect(within(card).queryByText('Sync failed', { exact: true })).not.toBeInTheDocument();
  });

  it('shows an expired credential as needing attention', () => {
    const { card } = setup(credential({ status: 'EXPIRED' }));
    expect(within(card).getByTestId('attention-badge')).toHaveAttribute('data-reason', 'expired');
  });

  it('leaves only history and delete on a revoked credential', async () => {
    const { card, actions } = setup(credential({ status: 'REVOKED', isPrimary: false }));
    expect(within(card).getByText('Revoked')).toBeInTheDocument();
    expect(await actions()).toEqual(['History', 'Delete…']);
  });

  it('never offers to reveal somebody else’s secret', async () => {
    const { actions } = setup(credential({ owner: 'grace' }));
    expect(await actions()).not.toContain('Reveal secret');
    expect(credentialActions('ACTIVE', false, false)).not.toContain('reveal');
  });

  it('renders a hostile name as text', () => {
    const name = '<img src=x onerror=alert(1)>';
    const { card } = setup(credential({ name }));
    expect(within(card).getByRole('heading', { name })).toHaveTextContent(name);
    expect(card.querySelector('img')).toBeNull();
  });

  it('sets the primary credential and says so', async () => {
    const { user, calls } = setup(credential({ isPrimary: false }), {
      SetPrimaryCredential: () => ({
        data: { setPrimaryCredential: { __typename: 'Credential', id: 'cred-1', isPrimary: true } },
      }),
    });
    await user.click(screen.getByRole('button', { name: 'Set as primary' }));
    await waitFor(() => expect(calls.map((c) => c.name)).toContain('SetPrimaryCredential'));
    expect(calls.find((c) => c.name === 'SetPrimaryCredential')?.variables).toEqual({ id: 'cred-1' });
  });

  it('deletes only after the credential’s name is typed', async () => {
    const { user, calls } = setup(credential(), {
      DeleteCredential: () => ({
        data: {
          deleteCredential: {
            __typename: 'DeleteCredentialPayload',
            deletedId: 'cred-1',
            newPrimary: { __typename: 'Credential', id: 'cred-2', name: 'Personal', isPrimary: true },
          },
        },
      }),
    });
    await choose(user, 'Delete…');
    const dialog = await screen.findByRole('dialog', { name: 'Delete Work?' });
    expect(within(dialog).getByText(/becomes primary/)).toBeInTheDocument();
    const confirm = within(dialog).getByRole('button', { name: 'Delete credential' });
    expect(confirm).toBeDisabled();
    await user.type(within(dialog).getByLabelText(/to confirm/), 'Wor');
    expect(confirm).toBeDisabled();
    await user.type(within(dialog).getByLabelText(/to confirm/), 'k');
    expect(confirm).toBeEnabled();
    await user.click(confirm);
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(calls.find((c) => c.name === 'DeleteCredential')?.variables).toEqual({ id: 'cred-1' });
  });

  it('traps focus in a dialog and gives it back to the menu that opened it', async () => {
    const { user } = setup();
    const trigger = screen.getByRole('button', { name: /more actions for/i });
    await choose(user, 'Delete…');
    const dialog = await screen.findByRole('dialog', { name: 'Delete Work?' });
    expect(dialog).toContainElement(document.activeElement as HTMLElement);
    for (let i = 0; i < 6; i++) {
      await user.tab();
      expect(dialog).toContainElement(document.activeElement as HTMLElement);
    }
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(trigger).toHaveFocus();
  });

  it('reveals the secret on request, says it is recorded, and hides it after 30 seconds', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    const { client } = mockClient({
      RevealCredential: () => ({
        data: {
          revealCredential: {
            __typename: 'RevealedCredential',
            credentialId: 'cred-1',
            fields: { token: 'ntn_canary_secret' },
            revealedAt: new Date().toISOString(),
          },
        },
      }),
    });
    renderWithClient(
      <CredentialCard credential={credential()} serviceName="Notion" fields={fields} />,
      client,
    );
    await choose(user, 'Reveal secret');
    const dialog = await screen.findByRole('dialog', { name: 'Reveal Work' });
    expect(within(dialog).getByText(/recorded in the ledger/)).toBeInTheDocument();
    expect(within(dialog).queryByText('ntn_canary_secret')).not.toBeInTheDocument();
    await user.click(within(dialog).getByRole('button', { name: 'Reveal secret' }));
    expect(await within(dialog).findByText('ntn_canary_secret')).toBeInTheDocument();
    await act(async () => {
      vi.advanceTimersByTime(31_000);
    });
    expect(within(dialog).queryByText('ntn_canary_secret')).not.toBeInTheDocument();
    expect(within(dialog).getByTestId('secret-hidden')).toBeInTheDocument();
  });

  it('shows an OAuth credential’s account, granted scopes and token renewal', () => {
    const { card } = setup(
      credential({
        service: 'gmail',
        name: 'Mail',
        account: { __typename: 'AccountIdentity', id: 'g-1', displayName: 'Ada', email: 'ada@gmail.example' },
        scopes: ['openid', 'https://www.googleapis.com/auth/gmail.readonly'],
        tokenExpiresAt: new Date(Date.now() + 50 * 60_000).toISOString(),
      }),
      {},
      testSession,
      'Google',
    );
    expect(card).toHaveTextContent('ada@gmail.example');
    expect(within(card).getByTestId('granted-scopes')).toHaveTextContent('openid, gmail.readonly');
    expect(within(card).getByTestId('token-renewal')).toHaveTextContent('renews automatically');
    expect(within(card).queryByRole('button', { name: /reconnect/i })).not.toBeInTheDocument();
  });

  it('offers Reconnect on an expired OAuth credential and starts a reconnect of it', async () => {
    const go = vi.spyOn(browser, 'go').mockImplementation(() => {});
    const { user, calls, card } = setup(
      credential({ service: 'gmail', status: 'EXPIRED', isPrimary: false }),
      {
        StartOAuthConnection: () => ({
          data: {
            startOAuthConnection: {
              __typename: 'StartOAuthConnectionPayload',
              authorizationUrl: 'https://accounts.example/consent?state=r1',
            },
          },
        }),
      },
      testSession,
      'Google',
    );
    await user.click(within(card).getByRole('button', { name: /reconnect/i }));
    await waitFor(() => expect(go).toHaveBeenCalledWith('https://accounts.example/consent?state=r1'));
    expect(calls.find((c) => c.name === 'StartOAuthConnection')?.variables).toEqual({
      service: 'gmail',
      name: null,
      reconnect: 'cred-1',
    });
    go.mockRestore();
  });

  it('offers no Reconnect to a credential pasted by hand', () => {
    setup(credential({ status: 'EXPIRED' }));
    expect(screen.queryByRole('button', { name: /reconnect/i })).not.toBeInTheDocument();
  });

  it('offers to replace an expired key, opening the edit dialog that checks the new one first', async () => {
    const { user } = setup(credential({ status: 'EXPIRED' }));
    await user.click(screen.getByRole('button', { name: 'Replace the expired key of Work' }));
    expect(await screen.findByRole('dialog', { name: 'Edit Work' })).toBeInTheDocument();
  });

  it('offers no key replacement on an expired OAuth connection (it is reconnected)', () => {
    setup(credential({ status: 'EXPIRED' }), {}, testSession, 'Google');
    expect(screen.queryByRole('button', { name: /replace the expired key/i })).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: /reconnect/i })).toBeInTheDocument();
  });

  it('offers to retry a failed sync now, and asks the server to', async () => {
    const { user, calls } = setup(
      credential({ syncStatus: 'ERROR', syncError: 'could not connect (connection refused)' }),
      { RetrySync: () => ({ data: { retrySync: 1 } }) },
    );
    await user.click(screen.getByRole('button', { name: 'Retry sync of Work' }));
    await waitFor(() =>
      expect(calls.find((c) => c.name === 'RetrySync')?.variables).toEqual({ id: 'cred-1' }),
    );
  });

  it('offers no retry while the sync is not failing', () => {
    setup(credential({ syncStatus: 'PENDING' }));
    expect(screen.queryByRole('button', { name: /retry sync/i })).not.toBeInTheDocument();
  });
});
