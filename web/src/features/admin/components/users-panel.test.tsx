import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { cacheExchange } from 'urql';
import { describe, expect, it } from 'vitest';
import { expectMaskedField } from '@/test/masked';
import { deferred, mockClient, type Answer } from '@/test/mock-client';
import { renderWithClient, testSession } from '@/test/render';
import { retainedIn } from '@/test/retained';
import { UsersPanel } from './users-panel';

const users = {
  data: {
    users: [
      {
        __typename: 'User',
        id: 'grace',
        email: 'grace@example.test',
        displayName: 'Grace Hopper',
        role: 'MEMBER',
        permissions: [],
        locked: false,
        createdAt: '2026-12-01T10:00:00Z',
      },
    ],
  },
};

function setup() {
  const { client, calls } = mockClient({
    AdminUsers: () => users,
    GrantPermission: () => ({
      data: { grantPermission: { __typename: 'User', id: 'grace', permissions: ['CREDENTIALS_VIEW_ALL'] } },
    }),
  });
  renderWithClient(<UsersPanel />, client, { session: { ...testSession, isAdmin: true } });
  return { calls, user: userEvent.setup() };
}

describe('UsersPanel', () => {
  it('asks before granting a permission, saying what it allows', async () => {
    const { calls, user } = setup();
    await user.click(await screen.findByRole('checkbox', { name: 'View all' }));
    const dialog = await screen.findByRole('dialog', { name: 'Grant “View all” to Grace Hopper?' });
    expect(dialog).toHaveTextContent(
      "Grace Hopper will be able to see everyone's credentials, never their secrets: the All credentials page",
    );
    expect(calls.filter((c) => c.name === 'GrantPermission')).toHaveLength(0);
    await user.click(within(dialog).getByRole('button', { name: 'Grant' }));
    await waitFor(() =>
      expect(calls.find((c) => c.name === 'GrantPermission')?.variables).toEqual({
        userId: 'grace',
        permission: 'CREDENTIALS_VIEW_ALL',
      }),
    );
  });

  it('changes nothing when the confirmation is cancelled', async () => {
    const { calls, user } = setup();
    await user.click(await screen.findByRole('checkbox', { name: 'Edit all' }));
    const dialog = await screen.findByRole('dialog', { name: /grant “edit all”/i });
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.getByRole('checkbox', { name: 'Edit all' })).not.toBeChecked();
    expect(calls.filter((c) => c.name === 'GrantPermission')).toHaveLength(0);
  });

  it('states the password rule when creating a user', async () => {
    const { user } = setup();
    await user.click(screen.getByRole('button', { name: 'New user' }));
    expect(await screen.findByLabelText('Initial password')).toHaveAccessibleDescription(
      'At least 12 characters. They can change it after signing in.',
    );
  });

  it('masks the initial password without making it a password field a browser would save', async () => {
    const { user } = setup();
    await user.click(screen.getByRole('button', { name: 'New user' }));
    const field = await screen.findByLabelText('Initial password');
    await user.type(field, 'grace-password-123');
    expect(field).toHaveValue('grace-password-123');
    expectMaskedField(field);
    const form = screen.getByRole('form', { name: 'New user' });
    expect(form.querySelectorAll('input[type="password"]')).toHaveLength(0);
  });

  it('keeps an initial password sent in no component’s state once the form has let go of it', async () => {
    let creates = 0;
    const second = deferred<Answer>();
    const { client, calls } = mockClient({
      AdminUsers: () => users,
      CreateUser: () =>
        ++creates === 1
          ? { errors: [{ message: 'That password is too common.', extensions: { code: 'VALIDATION' } }] }
          : second.promise,
    });
    const { container } = renderWithClient(<UsersPanel />, client, {
      session: { ...testSession, isAdmin: true },
    });
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'New user' }));
    const dialog = await screen.findByRole('dialog', { name: 'New user' });
    await user.type(within(dialog).getByLabelText('User id'), 'ada2');
    await user.type(within(dialog).getByLabelText('Email'), 'ada2@example.test');
    await user.type(within(dialog).getByLabelText('Name'), 'Ada Two');
    const password = within(dialog).getByLabelText('Initial password');
    await user.type(password, 'canary-refused-pw');
    await user.click(within(dialog).getByRole('button', { name: 'Create user' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('That password is too common.');
    // The form holds what was typed while it is open: the search sees it.
    expect(retainedIn(container, 'canary-refused-pw')).not.toEqual([]);

    // Another password in its place: nothing keeps the one that was sent.
    await user.clear(password);
    await user.type(password, 'canary-created-pw');
    expect(retainedIn(container, 'canary-refused-pw')).toEqual([]);

    await user.click(within(dialog).getByRole('button', { name: 'Create user' }));
    await waitFor(() => expect(within(dialog).getByRole('button', { name: 'Create user' })).toBeDisabled());
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toBeDisabled();
    second.resolve({ data: { createUser: { __typename: 'User', id: 'ada2', displayName: 'Ada Two' } } });
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(calls.filter((c) => c.name === 'CreateUser').map((c) => c.variables)).toEqual([
      {
        input: {
          userId: 'ada2',
          email: 'ada2@example.test',
          displayName: 'Ada Two',
          password: 'canary-refused-pw',
          admin: false,
        },
      },
      {
        input: {
          userId: 'ada2',
          email: 'ada2@example.test',
          displayName: 'Ada Two',
          password: 'canary-created-pw',
          admin: false,
        },
      },
    ]);
    expect(retainedIn(container, 'canary-created-pw')).toEqual([]);
    expect(retainedIn(container, 'canary-refused-pw')).toEqual([]);
  });

  it('keeps each unlock button disabled until its own answer, whatever the others do', async () => {
    const locked = (id: string, displayName: string) => ({
      ...users.data.users[0],
      id,
      email: `${id}@example.test`,
      displayName,
      locked: true,
    });
    const answers = { grace: deferred<Answer>(), alan: deferred<Answer>() };
    const { client, calls } = mockClient({
      AdminUsers: () => ({
        data: { users: [locked('grace', 'Grace Hopper'), locked('alan', 'Alan Turing')] },
      }),
      UnlockUser: (v) => answers[v.userId as 'grace' | 'alan'].promise,
    });
    renderWithClient(<UsersPanel />, client, { session: { ...testSession, isAdmin: true } });
    const user = userEvent.setup();
    const unlock = async (name: string) => {
      await user.click(screen.getByRole('button', { name: `Unlock ${name}` }));
      const dialog = await screen.findByRole('dialog', { name: `Unlock ${name}?` });
      await user.click(within(dialog).getByRole('button', { name: 'Unlock' }));
      await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    };
    await screen.findByRole('button', { name: 'Unlock Grace Hopper' });
    await unlock('Grace Hopper');
    await unlock('Alan Turing');
    await waitFor(() => expect(screen.getByRole('button', { name: 'Unlock Alan Turing' })).toBeDisabled());
    expect(screen.getByRole('button', { name: 'Unlock Grace Hopper' })).toBeDisabled();

    answers.grace.resolve({
      data: { unlockUser: { __typename: 'User', id: 'grace', locked: false } },
    });
    await waitFor(() => expect(screen.getByRole('button', { name: 'Unlock Grace Hopper' })).toBeEnabled());
    expect(screen.getByRole('button', { name: 'Unlock Alan Turing' })).toBeDisabled();
    expect(calls.filter((c) => c.name === 'UnlockUser').map((c) => c.variables)).toEqual([
      { userId: 'grace' },
      { userId: 'alan' },
    ]);
  });

  it('cannot be closed while a user is being created, so a refusal is seen', async () => {
    const answer = deferred<Answer>();
    const { client } = mockClient({ AdminUsers: () => users, CreateUser: () => answer.promise });
    renderWithClient(<UsersPanel />, client, { session: { ...testSession, isAdmin: true } });
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'New user' }));
    const dialog = await screen.findByRole('dialog', { name: 'New user' });
    await user.type(within(dialog).getByLabelText('User id'), 'ada2');
    await user.type(within(dialog).getByLabelText('Email'), 'ada2@example.test');
    await user.type(within(dialog).getByLabelText('Name'), 'Ada Two');
    await user.type(within(dialog).getByLabelText('Initial password'), 'a-long-enough-password');
    await user.click(within(dialog).getByRole('button', { name: 'Create user' }));
    await waitFor(() => expect(within(dialog).getByRole('button', { name: 'Create user' })).toBeDisabled());
    expect(within(dialog).queryByRole('button', { name: 'Close' })).not.toBeInTheDocument();
    await user.keyboard('{Escape}');

    answer.resolve({
      errors: [{ message: 'A user with this email exists.', extensions: { code: 'CONFLICT' } }],
    });
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('A user with this email exists.');
    expect(screen.getByRole('dialog', { name: 'New user' })).toBeInTheDocument();
  });

  it('says, before a lock, that MCP servers go on using the person’s credentials and how to stop them', async () => {
    const { user } = setup();
    await user.click(await screen.findByRole('button', { name: 'Lock Grace Hopper' }));
    const dialog = await screen.findByRole('dialog', { name: 'Lock Grace Hopper?' });
    expect(dialog).toHaveAccessibleDescription(
      expect.stringContaining(
        'Their credentials are not locked: MCP servers that hold copies of them, or resolve them through a grant, go on using them.',
      ),
    );
    expect(dialog).toHaveAccessibleDescription(
      expect.stringContaining('To stop that, revoke or delete their credentials through the API'),
    );
    expect(dialog).toHaveTextContent(
      'through the API (revokeCredential, deleteCredential), or narrow or remove the MCP servers',
    );
  });

  it('asks before an unlock, saying their API tokens work again', async () => {
    const { client, calls } = mockClient({
      AdminUsers: () => ({ data: { users: [{ ...users.data.users[0], locked: true }] } }),
      UnlockUser: () => ({ data: { unlockUser: { __typename: 'User', id: 'grace', locked: false } } }),
    });
    renderWithClient(<UsersPanel />, client, { session: { ...testSession, isAdmin: true } });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Unlock Grace Hopper' }));
    const dialog = await screen.findByRole('dialog', { name: 'Unlock Grace Hopper?' });
    expect(dialog).toHaveAccessibleDescription(
      expect.stringContaining(
        'every API token of theirs that was not revoked and has not expired works again at once',
      ),
    );
    expect(calls.filter((c) => c.name === 'UnlockUser')).toHaveLength(0);
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(calls.filter((c) => c.name === 'UnlockUser')).toHaveLength(0);

    await user.click(screen.getByRole('button', { name: 'Unlock Grace Hopper' }));
    await user.click(
      within(await screen.findByRole('dialog', { name: 'Unlock Grace Hopper?' })).getByRole('button', {
        name: 'Unlock',
      }),
    );
    await waitFor(() =>
      expect(calls.filter((c) => c.name === 'UnlockUser').map((c) => c.variables)).toEqual([
        { userId: 'grace' },
      ]),
    );
  });

  it('cannot be closed while a lock is on its way, so a refusal is seen', async () => {
    const answer = deferred<Answer>();
    const { client } = mockClient({ AdminUsers: () => users, LockUser: () => answer.promise });
    renderWithClient(<UsersPanel />, client, { session: { ...testSession, isAdmin: true } });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Lock Grace Hopper' }));
    const dialog = await screen.findByRole('dialog', { name: 'Lock Grace Hopper?' });
    expect(within(dialog).getByRole('button', { name: 'Close' })).toBeInTheDocument();
    await user.click(within(dialog).getByRole('button', { name: 'Lock user' }));
    await waitFor(() => expect(within(dialog).getByRole('button', { name: 'Lock user' })).toBeDisabled());
    expect(within(dialog).queryByRole('button', { name: 'Close' })).not.toBeInTheDocument();
    await user.keyboard('{Escape}');

    answer.resolve({
      errors: [{ message: 'Too many requests: try again in 30 s.', extensions: { code: 'RATE_LIMITED' } }],
    });
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('Too many requests');
    expect(screen.getByRole('dialog', { name: 'Lock Grace Hopper?' })).toBeInTheDocument();
  });

  // As the API has it: deleteCredential needs Delete all, revokeCredential Edit all
  // (api/src/graphql/mutation.rs), and either acts on a credential given by its id.
  it('says that Delete all deletes through the API and does not revoke', async () => {
    const { user } = setup();
    await user.click(await screen.findByRole('checkbox', { name: 'Delete all' }));
    const dialog = await screen.findByRole('dialog', { name: 'Grant “Delete all” to Grace Hopper?' });
    expect(dialog).toHaveAccessibleDescription(
      "Grace Hopper will be able to delete anyone's credential through the API, given its id (revoking one needs Edit all, listing everyone's View all). The change is recorded in the ledger.",
    );
  });

  // Another administrator got there first: the row is read again (the app's document cache,
  // as here, refetches every list of users after any answer to a mutation given userContext).
  describe('reads the users again after a refusal, so the row is not stale', () => {
    const refused = (code: string) => ({
      errors: [{ message: 'Someone changed this user meanwhile.', extensions: { code } }],
    });
    // The list as it is before the refused change, and as the other administrator left it after.
    function withCache(name: string, answer: Answer) {
      let changed = false;
      const { client, calls } = mockClient(
        {
          AdminUsers: () =>
            changed ? { data: { users: [{ ...users.data.users[0], locked: true }] } } : users,
          [name]: () => {
            changed = true;
            return answer;
          },
        },
        { exchanges: [cacheExchange] },
      );
      renderWithClient(<UsersPanel />, client, { session: { ...testSession, isAdmin: true } });
      const readsAfterChange = () =>
        calls.slice(calls.findIndex((c) => c.name === name)).filter((c) => c.name === 'AdminUsers');
      return { readsAfterChange, user: userEvent.setup() };
    }

    it('after a lock refused with CONFLICT', async () => {
      const { readsAfterChange, user } = withCache('LockUser', refused('CONFLICT'));
      await user.click(await screen.findByRole('button', { name: 'Lock Grace Hopper' }));
      const dialog = await screen.findByRole('dialog', { name: 'Lock Grace Hopper?' });
      await user.click(within(dialog).getByRole('button', { name: 'Lock user' }));
      expect(await within(dialog).findByRole('alert')).toHaveTextContent(
        'Someone changed this user meanwhile.',
      );
      // Behind the dialog, which stays open with the refusal: the row now says Locked.
      await waitFor(() => expect(screen.getByTestId('user-grace')).toHaveTextContent('Locked'));
      expect(readsAfterChange()).toHaveLength(1);
    });

    it('after a permission change refused with NOT_FOUND', async () => {
      const { readsAfterChange, user } = withCache('GrantPermission', refused('NOT_FOUND'));
      await user.click(await screen.findByRole('checkbox', { name: 'View all' }));
      const dialog = await screen.findByRole('dialog', { name: 'Grant “View all” to Grace Hopper?' });
      await user.click(within(dialog).getByRole('button', { name: 'Grant' }));
      expect(await screen.findByRole('button', { name: 'Unlock Grace Hopper' })).toBeInTheDocument();
      expect(readsAfterChange()).toHaveLength(1);
    });
  });

  it('counts the initial password in characters, as the server does, not UTF-16 units', async () => {
    const { calls, user } = setup();
    await user.click(screen.getByRole('button', { name: 'New user' }));
    const dialog = await screen.findByRole('dialog', { name: 'New user' });
    await user.type(within(dialog).getByLabelText('User id'), 'ada2');
    await user.type(within(dialog).getByLabelText('Email'), 'ada2@example.test');
    await user.type(within(dialog).getByLabelText('Name'), 'Ada Two');
    // 11 characters, 12 UTF-16 units: the emoji is one character, two units.
    await user.type(within(dialog).getByLabelText('Initial password'), 'password-1😀');
    await user.click(within(dialog).getByRole('button', { name: 'Create user' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'The password needs at least 12 characters.',
    );
    expect(calls.filter((c) => c.name === 'CreateUser')).toEqual([]);
  });
});
