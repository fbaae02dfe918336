import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { makeFragmentData } from '@/gql';
import { deferred, mockClient, type Answer, type Responder } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { retainedIn } from '@/test/retained';
import { browser } from '../api/oauth';
import { AddCredentialDialog, AddCredentialDialogServiceFragment } from './add-credential-dialog';

const services = [
  makeFragmentData(
    {
      __typename: 'Service',
      key: 'notion',
      displayName: 'Notion',
      docsUrl: 'https://developers.notion.com/docs/authorization',
      enabled: true,
      oauthAvailable: false,
      oauthProvider: null,
      oauthScopes: [],
      fields: [
        {
          __typename: 'ServiceField',
          name: 'token',
          label: 'Internal integration token',
          required: true,
          secret: true,
          format: null,
          placeholder: 'Starts with ntn_ or secret_',
        },
      ],
    },
    AddCredentialDialogServiceFragment,
  ),
  makeFragmentData(
    {
      __typename: 'Service',
      key: 'jira',
      displayName: 'Jira',
      docsUrl: 'javascript:alert(1)',
      enabled: true,
      oauthAvailable: false,
      oauthProvider: null,
      oauthScopes: [],
      fields: [
        {
          __typename: 'ServiceField',
          name: 'url',
          label: 'Site URL',
          required: true,
          secret: false,
          format: 'URL',
        },
        {
          __typename: 'ServiceField',
          name: 'email',
          label: 'Account email',
          required: true,
          secret: false,
          format: 'EMAIL',
        },
        {
          __typename: 'ServiceField',
          name: 'api_token',
          label: 'API token',
          required: true,
          secret: true,
          format: null,
        },
      ],
    },
    AddCredentialDialogServiceFragment,
  ),
  makeFragmentData(
    {
      __typename: 'Service',
      key: 'gmail',
      displayName: 'Gmail',
      docsUrl: 'https://developers.google.com/gmail/api/auth/about-auth',
      enabled: true,
      oauthAvailable: true,
      oauthProvider: 'google',
      oauthScopes: ['openid', 'https://www.googleapis.com/auth/gmail.readonly'],
      fields: [
        {
          __typename: 'ServiceField',
          name: 'access_token',
          label: 'Access token',
          required: true,
          secret: true,
          format: null,
        },
      ],
    },
    AddCredentialDialogServiceFragment,
  ),
];

const valid: Answer = {
  data: {
    testCredential: {
      __typename: 'TestCredentialResult',
      result: 'VALID',
      message: null,
      account: {
        __typename: 'AccountIdentity',
        id: 'ws-1',
        displayName: 'Acme HQ',
        email: 'ada@acme.example',
      },
      scopes: [],
      rateLimitRemaining: 9,
    },
  },
};

const invalid: Answer = {
  data: {
    testCredential: {
      __typename: 'TestCredentialResult',
      result: 'INVALID',
      message: 'API token is invalid.',
      account: null,
      scopes: [],
      rateLimitRemaining: 8,
    },
  },
};

const added: Answer = {
  data: {
    addCredential: {
      __typename: 'AddCredentialPayload',
      credential: {
        __typename: 'Credential',
        id: 'c1',
        name: 'Work',
        service: 'notion',
        status: 'ACTIVE',
        isPrimary: true,
      },
      rateLimitRemaining: 8,
    },
  },
};

function setup(
  responders: Record<string, Responder>,
  preselected: string | null = 'notion',
  taken: string[] = [],
) {
  const { client, calls } = mockClient(responders);
  const onOpenChange = vi.fn();
  const user = userEvent.setup();
  const { container } = renderWithClient(
    <AddCredentialDialog
      open
      onOpenChange={onOpenChange}
      services={services}
      preselectedService={preselected}
      takenNames={(service) => (service === 'notion' ? taken : [])}
    />,
    client,
  );
  const dialog = screen.getByRole('dialog', { name: 'Add credential' });
  return { user, calls, onOpenChange, dialog, container };
}

const addButton = () => screen.getByRole('button', { name: /^add$/i });
/** Add stays focusable and submits (Enter tests first); it only says it cannot add yet. */
const addable = () => addButton().getAttribute('aria-disabled') !== 'true';
const testButton = () => screen.getByRole('button', { name: /test(ing)? credential/i });

describe('AddCredentialDialog', () => {
  it('preselects the service chosen from its card and shows its catalog fields', () => {
    setup({});
    expect(screen.getByLabelText('Service')).toHaveValue('notion');
    const token = screen.getByLabelText(/internal integration token/i);
    expect(token).toHaveAttribute('type', 'text');
    expect(token).toHaveClass('[-webkit-text-security:disc]');
    expect(token).toBeRequired();
    expect(addable()).toBe(false);
  });

  it('checks required fields before sending anything', async () => {
    const { user, calls } = setup({ TestCredential: () => valid });
    await user.click(testButton());
    expect(await screen.findByText('Internal integration token is required.')).toBeInTheDocument();
    expect(screen.getByLabelText(/internal integration token/i)).toHaveAttribute('aria-invalid', 'true');
    expect(calls.filter((c) => c.name === 'TestCredential')).toHaveLength(0);
    expect(addable()).toBe(false);
  });

  it('shows a spinner while the provider is asked', async () => {
    const answer = deferred<Answer>();
    const { user } = setup({ TestCredential: () => answer.promise });
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_good');
    await user.click(testButton());
    expect(await screen.findByText(/testing with notion/i)).toBeInTheDocument();
    expect(testButton()).toBeDisabled();
    expect(testButton()).toHaveTextContent('Testing credential…');
    expect(addable()).toBe(false);
    answer.resolve(valid);
    expect(await screen.findByText('The credential is valid.')).toBeInTheDocument();
    expect(screen.queryByText(/testing with notion/i)).not.toBeInTheDocument();
  });

  it('enables Add after a valid test, then adds exactly the tested values', async () => {
    const { user, calls, onOpenChange } = setup({ TestCredential: () => valid, AddCredential: () => added });
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_good');
    await user.click(testButton());
    expect(await screen.findByText(/account found: acme hq · ada@acme.example/i)).toBeInTheDocument();
    expect(screen.getByText('9 live checks left this minute.')).toBeInTheDocument();
    expect(addable()).toBe(true);
    expect(calls.find((c) => c.name === 'TestCredential')?.variables).toEqual({
      service: 'notion',
      fields: { token: 'ntn_good' },
    });

    await user.click(addButton());
    await waitFor(() => expect(onOpenChange).toHaveBeenCalledWith(false));
    expect(calls.find((c) => c.name === 'AddCredential')?.variables).toEqual({
      input: { service: 'notion', name: 'Work', fields: { token: 'ntn_good' } },
    });
  });

  it("shows the provider's message for an invalid secret and keeps Add disabled", async () => {
    const { user, calls } = setup({ TestCredential: () => invalid, AddCredential: () => added });
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_bad');
    await user.click(testButton());
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The provider refused this credential.');
    expect(alert).toHaveTextContent('API token is invalid.');
    expect(addable()).toBe(false);
    await user.click(addButton());
    expect(calls.filter((c) => c.name === 'AddCredential')).toHaveLength(0);
  });

  it('disables Add again when the values change after a successful test', async () => {
    const { user } = setup({ TestCredential: () => valid });
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    const token = screen.getByLabelText(/internal integration token/i);
    await user.type(token, 'ntn_good');
    await user.click(testButton());
    await screen.findByText('The credential is valid.');
    expect(addable()).toBe(true);

    await user.type(token, 'X');
    expect(addable()).toBe(false);
    expect(screen.getByText(/values changed since the last test/i)).toBeInTheDocument();

    // Back to the tested value: nothing kept it to compare with, so it is tested again.
    await user.type(token, '{Backspace}');
    expect(addable()).toBe(false);
    await user.click(testButton());
    await screen.findByText('The credential is valid.');
    expect(addable()).toBe(true);
  });

  it('does not take a test answered after the values changed for the values shown', async () => {
    const answer = deferred<Answer>();
    const { user } = setup({ TestCredential: () => answer.promise });
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    const token = screen.getByLabelText(/internal integration token/i);
    await user.type(token, 'ntn_good');
    await user.click(testButton());
    await screen.findByText(/testing with notion/i);
    await user.type(token, 'X');
    expect(testButton()).toHaveTextContent('Test credential');
    // The answer for ntn_good arrives, and every promise it settles has run (the next task).
    await act(async () => {
      answer.resolve(valid);
      await new Promise((r) => setTimeout(r, 0));
    });
    expect(screen.queryByText('The credential is valid.')).not.toBeInTheDocument();
    expect(screen.getByText(/values changed since the last test/i)).toBeInTheDocument();
    expect(addable()).toBe(false);
  });

  it('renaming after the test keeps the test valid (only the secret is tested)', async () => {
    const { user } = setup({ TestCredential: () => valid });
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_good');
    await user.click(testButton());
    await screen.findByText('The credential is valid.');
    await user.type(screen.getByLabelText(/^name/i), 'Personal');
    expect(addable()).toBe(true);
  });

  it('asks for a name before adding', async () => {
    const { user, calls } = setup({ TestCredential: () => valid, AddCredential: () => added });
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_good');
    await user.click(testButton());
    await screen.findByText('The credential is valid.');
    await user.click(addButton());
    expect(await screen.findByText('Name is required.')).toBeInTheDocument();
    expect(calls.filter((c) => c.name === 'AddCredential')).toHaveLength(0);
  });

  it('says when live checks are rate limited, and for how long', async () => {
    const { user } = setup({
      TestCredential: () => ({
        errors: [{ message: 'rate limited', extensions: { code: 'RATE_LIMITED', retryAfter: 42 } }],
      }),
    });
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_good');
    await user.click(testButton());
    expect(await screen.findByRole('alert')).toHaveTextContent('Too many live checks. Try again in 42 s.');
    expect(addable()).toBe(false);
  });

  it('says the provider could not be asked without calling the credential invalid', async () => {
    const { user } = setup({
      TestCredential: () => ({
        data: {
          testCredential: {
            __typename: 'TestCredentialResult',
            result: 'COULD_NOT_CHECK',
            message: 'Notion did not answer in time.',
            account: null,
            scopes: [],
            rateLimitRemaining: 5,
          },
        },
      }),
    });
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_good');
    await user.click(testButton());
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The provider could not be asked.');
    expect(alert).toHaveTextContent('Notion did not answer in time.');
    expect(addable()).toBe(false);
  });

  it('shows the refusal when adding fails, and stays open', async () => {
    const { user, onOpenChange } = setup({
      TestCredential: () => valid,
      AddCredential: () => ({
        errors: [
          { message: 'A Notion credential named "Work" already exists.', extensions: { code: 'CONFLICT' } },
        ],
      }),
    });
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_good');
    await user.click(testButton());
    await screen.findByText('The credential is valid.');
    await user.click(addButton());
    expect(await screen.findByText('A Notion credential named "Work" already exists.')).toBeInTheDocument();
    expect(onOpenChange).not.toHaveBeenCalledWith(false);
  });

  it('cannot be closed while the credential is being added, and then shows the refusal', async () => {
    const answer = deferred<Answer>();
    const { client } = mockClient({ TestCredential: () => valid, AddCredential: () => answer.promise });
    function Page() {
      const [open, setOpen] = useState(true);
      return (
        <AddCredentialDialog
          open={open}
          onOpenChange={setOpen}
          services={services}
          preselectedService="notion"
        />
      );
    }
    const user = userEvent.setup();
    renderWithClient(<Page />, client);
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_good');
    await user.click(testButton());
    await screen.findByText('The credential is valid.');
    await user.click(addButton());
    await waitFor(() => expect(screen.getByRole('button', { name: 'Cancel' })).toBeDisabled());
    expect(screen.queryByRole('button', { name: 'Close' })).not.toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.getByRole('dialog', { name: 'Add credential' })).toBeInTheDocument();

    answer.resolve({
      errors: [
        { message: 'The server cannot reach its database right now.', extensions: { code: 'UNAVAILABLE' } },
      ],
    });
    expect(await screen.findByText('The server cannot reach its database right now.')).toBeInTheDocument();
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
  });

  it('lets a service be chosen, with that service’s fields', async () => {
    const { user, dialog } = setup({}, null);
    expect(screen.getByLabelText('Service')).toHaveValue('');
    expect(within(dialog).queryByRole('button', { name: /test credential/i })).not.toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText('Service'), 'jira');
    expect(screen.getByLabelText(/site url/i)).toHaveAttribute('type', 'url');
    expect(screen.getByLabelText(/account email/i)).toHaveAttribute('type', 'email');
    expect(screen.getByLabelText(/api token/i)).toHaveClass('[-webkit-text-security:disc]');
  });

  it('connects a service that uses OAuth through the provider, without asking for a token', async () => {
    const go = vi.spyOn(browser, 'go').mockImplementation(() => {});
    const { client, calls } = mockClient({
      StartOAuthConnection: () => ({
        data: {
          startOAuthConnection: {
            __typename: 'StartOAuthConnectionPayload',
            authorizationUrl: 'https://accounts.example/consent?state=s1',
          },
        },
      }),
    });
    const user = userEvent.setup();
    renderWithClient(
      <AddCredentialDialog open onOpenChange={() => {}} services={services} preselectedService="gmail" />,
      client,
    );
    expect(screen.queryByLabelText(/access token/i)).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /^add$/i })).not.toBeInTheDocument();
    expect(screen.getByTestId('oauth-connect')).toHaveTextContent('openid, gmail.readonly');
    await user.type(screen.getByLabelText(/name/i), 'Mail');
    await user.click(screen.getByRole('button', { name: 'Connect with Google' }));
    await waitFor(() => expect(go).toHaveBeenCalledWith('https://accounts.example/consent?state=s1'));
    expect(calls.find((c) => c.name === 'StartOAuthConnection')?.variables).toEqual({
      service: 'gmail',
      name: 'Mail',
      reconnect: null,
    });
    go.mockRestore();
  });

  it('says why a connection could not be started, and stays on the page', async () => {
    const go = vi.spyOn(browser, 'go').mockImplementation(() => {});
    const { client } = mockClient({
      StartOAuthConnection: () => ({
        errors: [{ message: 'Gmail cannot be connected on this server', extensions: { code: 'VALIDATION' } }],
      }),
    });
    const user = userEvent.setup();
    renderWithClient(
      <AddCredentialDialog open onOpenChange={() => {}} services={services} preselectedService="gmail" />,
      client,
    );
    await user.click(screen.getByRole('button', { name: 'Connect with Google' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Gmail cannot be connected on this server');
    expect(go).not.toHaveBeenCalled();
    go.mockRestore();
  });

  it('puts the cursor in Name, shows what each value looks like and where to find it', () => {
    setup({});
    expect(screen.getByLabelText(/^name/i)).toHaveFocus();
    expect(screen.getByLabelText(/internal integration token/i)).toHaveAttribute(
      'placeholder',
      'Starts with ntn_ or secret_',
    );
    const link = screen.getByRole('link', { name: /where do i find this/i });
    expect(link).toHaveAttribute('href', 'https://developers.notion.com/docs/authorization');
    expect(link).toHaveAttribute('target', '_blank');
    expect(link).toHaveAttribute('rel', 'noopener noreferrer');
  });

  it('links no documentation address that is not https', async () => {
    const { user } = setup({}, null);
    await user.selectOptions(screen.getByLabelText('Service'), 'jira');
    expect(screen.queryByRole('link', { name: /where do i find this/i })).not.toBeInTheDocument();
  });

  it('says visibly why Add cannot add yet', () => {
    setup({});
    expect(screen.getByText(/added once a test passes/i)).toBeVisible();
  });

  it('tests on Enter, then adds on Enter once the test passed', async () => {
    const { user, calls, onOpenChange } = setup({ TestCredential: () => valid, AddCredential: () => added });
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_good{Enter}');
    expect(await screen.findByText('The credential is valid.')).toBeInTheDocument();
    expect(calls.filter((c) => c.name === 'AddCredential')).toHaveLength(0);
    await user.type(screen.getByLabelText(/internal integration token/i), '{Enter}');
    await waitFor(() => expect(onOpenChange).toHaveBeenCalledWith(false));
    expect(calls.filter((c) => c.name === 'TestCredential')).toHaveLength(1);
    expect(calls.find((c) => c.name === 'AddCredential')?.variables).toEqual({
      input: { service: 'notion', name: 'Work', fields: { token: 'ntn_good' } },
    });
  });

  it('does not test the same refused values again on Enter', async () => {
    const { user, calls } = setup({ TestCredential: () => invalid });
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_bad{Enter}');
    await screen.findByRole('alert');
    expect(screen.getByText('These values were refused: change them, then test again.')).toBeVisible();
    await user.type(screen.getByLabelText(/internal integration token/i), '{Enter}');
    expect(calls.filter((c) => c.name === 'TestCredential')).toHaveLength(1);
  });

  it('tests again on Enter after a test that could not be made', async () => {
    const answers: Answer[] = [
      { networkError: new Error('Failed to fetch') },
      { errors: [{ message: 'rate limited', extensions: { code: 'RATE_LIMITED', retryAfter: 1 } }] },
      { errors: [{ message: 'The database is away.', extensions: { code: 'UNAVAILABLE' } }] },
      {
        data: {
          testCredential: {
            __typename: 'TestCredentialResult',
            result: 'COULD_NOT_CHECK',
            message: 'Notion did not answer in time.',
            account: null,
            scopes: [],
            rateLimitRemaining: 5,
          },
        },
      },
      valid,
    ];
    const { user, calls } = setup({ TestCredential: () => answers.shift() as Answer });
    const tests = () => calls.filter((c) => c.name === 'TestCredential').length;
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    const token = screen.getByLabelText(/internal integration token/i);
    await user.type(token, 'ntn_good{Enter}');
    expect(await screen.findByText(/server could not be reached/i)).toBeInTheDocument();
    expect(screen.getByText(/press enter or “test credential”/i)).toBeInTheDocument();
    await user.type(token, '{Enter}');
    expect(await screen.findByText(/too many live checks/i)).toBeInTheDocument();
    await user.type(token, '{Enter}');
    expect(await screen.findByText('The database is away.')).toBeInTheDocument();
    await user.type(token, '{Enter}');
    expect(await screen.findByText('The provider could not be asked.')).toBeInTheDocument();
    await user.type(token, '{Enter}');
    expect(await screen.findByText('The credential is valid.')).toBeInTheDocument();
    expect(tests()).toBe(5);
    expect(addable()).toBe(true);
  });

  it('tells a taken name before any live check is spent', async () => {
    const { user, calls } = setup({ TestCredential: () => valid }, 'notion', ['Work']);
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    expect(screen.getByLabelText(/^name/i)).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByText(/already have a notion credential named “work”/i)).toBeInTheDocument();
    expect(testButton()).toBeDisabled();
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_good{Enter}');
    expect(calls.filter((c) => c.name === 'TestCredential')).toHaveLength(0);
  });

  it('marks the name when the server says it is taken', async () => {
    const { user, onOpenChange } = setup({
      TestCredential: () => valid,
      AddCredential: () => ({
        errors: [
          {
            message: 'a credential named `Work` already exists for this service',
            extensions: { code: 'CONFLICT' },
          },
        ],
      }),
    });
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_good');
    await user.click(testButton());
    await screen.findByText('The credential is valid.');
    await user.click(addButton());
    expect(await screen.findByText(/already have a notion credential named “work”/i)).toBeInTheDocument();
    expect(screen.getByLabelText(/^name/i)).toHaveAttribute('aria-invalid', 'true');
    expect(screen.queryByText(/`Work`/)).not.toBeInTheDocument();
    expect(onOpenChange).not.toHaveBeenCalledWith(false);
  });

  it('keeps a sent secret in no component’s state once the form has let go of it', async () => {
    let adds = 0;
    const second = deferred<Answer>();
    const { client } = mockClient({
      TestCredential: () => valid,
      AddCredential: () =>
        ++adds === 1
          ? { errors: [{ message: 'The ledger could not keep it.', extensions: { code: 'INTERNAL' } }] }
          : second.promise,
    });
    function Page() {
      const [open, setOpen] = useState(true);
      return (
        <AddCredentialDialog
          open={open}
          onOpenChange={setOpen}
          services={services}
          preselectedService="notion"
        />
      );
    }
    const user = userEvent.setup();
    const { container } = renderWithClient(<Page />, client);
    const token = screen.getByLabelText(/internal integration token/i);
    await user.type(screen.getByLabelText(/^name/i), 'Work');
    await user.type(token, 'ntn_canary_refused');
    await user.click(testButton());
    await screen.findByText('The credential is valid.');
    await user.click(addButton());
    expect(await screen.findByRole('alert')).toBeInTheDocument();
    // The form holds what was typed while it is open: the search sees it.
    expect(retainedIn(container, 'ntn_canary_refused')).not.toEqual([]);

    // Another secret in its place: nothing keeps the one that was sent before, not even the
    // test that passed it, before the new one is tested; Add waits for that test.
    await user.clear(token);
    await user.type(token, 'ntn_canary_added');
    expect(retainedIn(container, 'ntn_canary_refused')).toEqual([]);
    expect(addable()).toBe(false);
    await user.click(testButton());
    await screen.findByText('The credential is valid.');
    expect(retainedIn(container, 'ntn_canary_refused')).toEqual([]);

    await user.click(addButton());
    expect(await screen.findByRole('button', { name: 'Adding…' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Cancel' })).toBeDisabled();
    second.resolve(added);
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(adds).toBe(2);
    expect(retainedIn(container, 'ntn_canary_added')).toEqual([]);
    expect(retainedIn(container, 'ntn_canary_refused')).toEqual([]);
  });

  it('keeps a tested secret in no component’s state once the form has let go of it', async () => {
    const { user, container } = setup({ TestCredential: () => invalid });
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_canary_tested');
    await user.click(testButton());
    expect(await screen.findByText('API token is invalid.')).toBeInTheDocument();
    expect(retainedIn(container, 'ntn_canary_tested')).not.toEqual([]);
    // Another value typed in its place, not tested yet: the test of the first is dropped.
    const token = screen.getByLabelText(/internal integration token/i);
    await user.clear(token);
    await user.type(token, 'ntn_canary_retyped');
    expect(retainedIn(container, 'ntn_canary_tested')).toEqual([]);
    // Another service: the values typed for this one, and its test, are dropped.
    await user.selectOptions(screen.getByLabelText('Service'), 'jira');
    expect(retainedIn(container, 'ntn_canary_retyped')).toEqual([]);
  });
});
