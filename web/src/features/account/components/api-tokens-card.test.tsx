import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Toaster } from '@/components/ui/toaster';
import { clearToasts } from '@/components/ui/use-toast';
import { makeFragmentData } from '@/gql';
import type { ApiTokensCard_MeFragment as TokensData } from '@/gql/graphql';
import { dateTime } from '@/lib/format';
import { deferred, mockClient, type Answer, type Responder } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { retainedIn, statesIn } from '@/test/retained';
import { ApiTokensCard, ApiTokensCardFragment } from './api-tokens-card';

type Token = TokensData['apiTokens'][number];

function token(overrides: Partial<Token> = {}): Token {
  return {
    __typename: 'ApiToken',
    id: 't1',
    name: 'ci',
    scopes: ['CREDENTIALS_READ'],
    expiresAt: null,
    revoked: false,
    createdAt: '2026-11-02T09:30:00Z',
    ...overrides,
  };
}

const created: Answer = {
  data: {
    createApiToken: {
      __typename: 'CreatedApiToken',
      token: 'cl_live_0123456789abcdef',
      apiToken: { __typename: 'ApiToken', id: 't9', name: 'gateway' },
    },
  },
};

function setup(tokens: Token[], responders: Record<string, Responder> = {}) {
  const { client, calls } = mockClient(responders);
  const me = makeFragmentData({ __typename: 'Me', apiTokens: tokens }, ApiTokensCardFragment);
  const user = userEvent.setup();
  const { container } = renderWithClient(
    <>
      <ApiTokensCard me={me} />
      <Toaster />
    </>,
    client,
  );
  return { user, calls, container };
}

beforeEach(() => clearToasts());

const named = (calls: { name: string; variables: Record<string, unknown> }[], name: string) =>
  calls.filter((c) => c.name === name);

async function openCreate(user: ReturnType<typeof userEvent.setup>) {
  await user.click(screen.getByRole('button', { name: 'New token' }));
  return screen.findByRole('dialog', { name: 'New API token' });
}

describe('ApiTokensCard', () => {
  it('says there are no tokens yet', () => {
    setup([]);
    expect(screen.getByText('No API tokens')).toBeInTheDocument();
    expect(screen.getByText('Create one for a script or an MCP server.')).toBeInTheDocument();
    expect(screen.queryByRole('table', { name: 'API tokens' })).not.toBeInTheDocument();
  });

  it('lists tokens with their scopes in words, dates, and a revoke action for live ones only', () => {
    setup([
      token({
        id: 't1',
        name: 'ci',
        scopes: ['CREDENTIALS_READ', 'LEDGER_READ'],
        expiresAt: '2027-01-31T22:59:59Z',
      }),
      token({ id: 't2', name: 'old laptop', scopes: ['CREDENTIALS_RESOLVE'], revoked: true }),
    ]);
    const rows = within(screen.getByRole('table', { name: 'API tokens' }))
      .getAllByRole('row')
      .slice(1);
    expect(rows).toHaveLength(2);

    const [ci, laptop] = rows.map((r) => within(r).getAllByRole('cell'));
    expect(ci[0]).toHaveTextContent(/^ci$/);
    expect(ci[1]).toHaveTextContent('credentials:readledger:read');
    expect(ci[2]).toHaveTextContent(dateTime('2026-11-02T09:30:00Z'));
    expect(ci[3]).toHaveTextContent(dateTime('2027-01-31T22:59:59Z'));
    expect(within(rows[0]).getByRole('button', { name: 'Revoke ci' })).toBeEnabled();

    expect(laptop[0]).toHaveTextContent('old laptopRevoked');
    expect(laptop[1]).toHaveTextContent('credentials:resolve');
    expect(laptop[3]).toHaveTextContent('Never');
    expect(within(rows[1]).queryByRole('button', { name: /revoke/i })).not.toBeInTheDocument();
  });

  it('revokes the token chosen and says so', async () => {
    const answer = deferred<Answer>();
    const { user, calls } = setup([token({ id: 't1', name: 'ci' }), token({ id: 't2', name: 'backup' })], {
      RevokeApiToken: () => answer.promise,
    });
    await user.click(screen.getByRole('button', { name: 'Revoke backup' }));
    await waitFor(() => expect(screen.getByRole('button', { name: 'Revoke backup' })).toBeDisabled());
    expect(screen.getByRole('button', { name: 'Revoke ci' })).toBeEnabled();
    answer.resolve({ data: { revokeApiToken: true } });
    expect(await screen.findByText('backup revoked')).toBeInTheDocument();
    expect(named(calls, 'RevokeApiToken').map((c) => c.variables)).toEqual([{ id: 't2' }]);
    expect(screen.getByRole('button', { name: 'Revoke backup' })).toBeEnabled();
  });

  it('keeps each revoke button disabled until its own answer, whatever the others do', async () => {
    const answers = { t1: deferred<Answer>(), t2: deferred<Answer>() };
    const { user, calls } = setup([token({ id: 't1', name: 'ci' }), token({ id: 't2', name: 'backup' })], {
      RevokeApiToken: (v) => answers[v.id as 't1' | 't2'].promise,
    });
    await user.click(screen.getByRole('button', { name: 'Revoke ci' }));
    await user.click(screen.getByRole('button', { name: 'Revoke backup' }));
    await waitFor(() => expect(screen.getByRole('button', { name: 'Revoke backup' })).toBeDisabled());
    expect(screen.getByRole('button', { name: 'Revoke ci' })).toBeDisabled();

    answers.t1.resolve({ data: { revokeApiToken: true } });
    expect(await screen.findByText('ci revoked')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Revoke backup' })).toBeDisabled();

    answers.t2.resolve({ data: { revokeApiToken: true } });
    expect(await screen.findByText('backup revoked')).toBeInTheDocument();
    expect(named(calls, 'RevokeApiToken').map((c) => c.variables)).toEqual([{ id: 't1' }, { id: 't2' }]);
  });

  it('says why a token could not be revoked', async () => {
    const { user } = setup([token({ id: 't1', name: 'ci' })], {
      RevokeApiToken: () => ({
        errors: [{ message: 'This no longer exists.', extensions: { code: 'NOT_FOUND' } }],
      }),
    });
    await user.click(screen.getByRole('button', { name: 'Revoke ci' }));
    expect(await screen.findByText('Could not revoke ci')).toBeInTheDocument();
    expect(screen.getByText('This no longer exists.')).toBeInTheDocument();
    expect(screen.queryByText('ci revoked')).not.toBeInTheDocument();
  });

  it('asks for a name and at least one scope before creating', async () => {
    const { user, calls } = setup([], { CreateApiToken: () => created });
    const dialog = await openCreate(user);
    expect(within(dialog).getByRole('checkbox', { name: /credentials:read/ })).toBeChecked();

    await user.click(within(dialog).getByRole('button', { name: 'Create token' }));
    expect(within(dialog).getByRole('alert')).toHaveTextContent('Give the token a name.');

    await user.type(within(dialog).getByLabelText('Name'), 'gateway');
    await user.click(within(dialog).getByRole('checkbox', { name: /credentials:read/ }));
    await user.click(within(dialog).getByRole('button', { name: 'Create token' }));
    expect(within(dialog).getByRole('alert')).toHaveTextContent('Choose at least one scope.');

    expect(named(calls, 'CreateApiToken')).toHaveLength(0);
  });

  it('creates a token with the chosen scopes and expiry, and shows it once to copy', async () => {
    const { user, calls } = setup([], { CreateApiToken: () => created });
    const dialog = await openCreate(user);
    await user.type(within(dialog).getByLabelText('Name'), '  gateway ');
    await user.click(within(dialog).getByRole('checkbox', { name: /credentials:resolve/ }));
    fireEvent.change(within(dialog).getByLabelText(/expires/i), { target: { value: '2031-06-30' } });
    await user.click(within(dialog).getByRole('button', { name: 'Create token' }));

    const shown = await screen.findByRole('dialog', { name: 'Your new token' });
    expect(within(shown).getByText('Copy it now: it is not shown again.')).toBeInTheDocument();
    expect(within(shown).getByTestId('new-token')).toHaveTextContent('cl_live_0123456789abcdef');
    expect(named(calls, 'CreateApiToken').map((c) => c.variables)).toEqual([
      {
        name: 'gateway',
        scopes: ['CREDENTIALS_READ', 'CREDENTIALS_RESOLVE'],
        // The end of the chosen day, in the user's time zone.
        expiresAt: new Date('2031-06-30T23:59:59').toISOString(),
      },
    ]);

    await user.click(within(shown).getByRole('button', { name: 'Copy the token' }));
    expect(await within(shown).findByText('Copied.')).toBeInTheDocument();
    expect(await navigator.clipboard.readText()).toBe('cl_live_0123456789abcdef');

    await user.click(within(shown).getByRole('button', { name: 'Done' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(screen.queryByText('cl_live_0123456789abcdef')).not.toBeInTheDocument();

    // Opening the dialog again starts a new token: the old one is gone for good.
    const again = await openCreate(user);
    expect(within(again).getByLabelText('Name')).toHaveValue('');
    expect(screen.queryByTestId('new-token')).not.toBeInTheDocument();
  });

  it('offers expiry days from today where the person is, not in UTC', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // Half past midnight, local time: still yesterday in UTC east of Greenwich.
      vi.setSystemTime(new Date(2026, 0, 2, 0, 30));
      const { user } = setup([]);
      const dialog = await openCreate(user);
      expect(within(dialog).getByLabelText(/expires/i)).toHaveAttribute('min', '2026-01-02');
    } finally {
      vi.useRealTimers();
    }
  });

  it('sends no expiry when none is chosen', async () => {
    const { user, calls } = setup([], { CreateApiToken: () => created });
    const dialog = await openCreate(user);
    await user.type(within(dialog).getByLabelText('Name'), 'gateway');
    await user.click(within(dialog).getByRole('button', { name: 'Create token' }));
    await screen.findByRole('dialog', { name: 'Your new token' });
    expect(named(calls, 'CreateApiToken')[0].variables).toEqual({
      name: 'gateway',
      scopes: ['CREDENTIALS_READ'],
      expiresAt: null,
    });
  });

  it("shows the server's refusal and keeps the form", async () => {
    const { user } = setup([], {
      CreateApiToken: () => ({
        errors: [{ message: 'A token named "gateway" already exists.', extensions: { code: 'CONFLICT' } }],
      }),
    });
    const dialog = await openCreate(user);
    await user.type(within(dialog).getByLabelText('Name'), 'gateway');
    await user.click(within(dialog).getByRole('button', { name: 'Create token' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'A token named "gateway" already exists.',
    );
    expect(within(dialog).getByLabelText('Name')).toHaveValue('gateway');
    expect(screen.queryByTestId('new-token')).not.toBeInTheDocument();
  });

  it('cannot be closed while the token is on its way, and then shows it', async () => {
    const answer = deferred<Answer>();
    const { user } = setup([], { CreateApiToken: () => answer.promise });
    const dialog = await openCreate(user);
    await user.type(within(dialog).getByLabelText('Name'), 'gateway');
    await user.click(within(dialog).getByRole('button', { name: 'Create token' }));
    await waitFor(() => expect(within(dialog).getByRole('button', { name: 'Create token' })).toBeDisabled());
    expect(within(dialog).queryByRole('button', { name: 'Close' })).not.toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.getByRole('dialog', { name: 'New API token' })).toBeInTheDocument();

    answer.resolve(created);
    const shown = await screen.findByRole('dialog', { name: 'Your new token' });
    expect(within(shown).getByTestId('new-token')).toHaveTextContent('cl_live_0123456789abcdef');
    // Closable again once it is shown.
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
  });

  it('keeps a new token only where it is shown, and nowhere once the dialog closes', async () => {
    const answer = deferred<Answer>();
    const { user, container } = setup([], { CreateApiToken: () => answer.promise });
    const dialog = await openCreate(user);
    await user.type(within(dialog).getByLabelText('Name'), 'gateway');
    await user.click(within(dialog).getByRole('button', { name: 'Create token' }));
    await waitFor(() => expect(within(dialog).getByRole('button', { name: 'Create token' })).toBeDisabled());
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toBeDisabled();
    answer.resolve(created);
    const shown = await screen.findByRole('dialog', { name: 'Your new token' });
    expect(within(shown).getByTestId('new-token')).toHaveTextContent('cl_live_0123456789abcdef');
    // Kept in the state that shows it, and in the element it is shown in.
    const where = retainedIn(container, 'cl_live_0123456789abcdef');
    expect(where).toContain('code.props.children');
    expect(statesIn(where)).toEqual([expect.stringMatching(/^CreateTokenFlow\.hooks\[\d+\]$/)]);
    expect(where.filter((p) => p.includes('.props.') && !p.endsWith('.props.children'))).toEqual([]);

    await user.click(within(shown).getByRole('button', { name: 'Done' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(retainedIn(container, 'cl_live_0123456789abcdef')).toEqual([]);
  });
});
