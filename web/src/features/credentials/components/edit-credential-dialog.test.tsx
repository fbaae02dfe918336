import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { deferred, mockClient, type Answer, type Responder } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { retainedIn } from '@/test/retained';
import { EditCredentialDialog } from './edit-credential-dialog';

const fields = [
  { name: 'token', label: 'Internal integration token', required: true, secret: true, format: null },
];
const updated: Answer = {
  data: {
    updateCredential: {
      __typename: 'UpdateCredentialPayload',
      credential: {
        __typename: 'Credential',
        id: 'c1',
        name: 'Office',
        status: 'ACTIVE',
        metadata: {},
        secretVersion: 2,
      },
      rateLimitRemaining: null,
    },
  },
};
const testAnswer = (result: 'VALID' | 'INVALID'): Answer => ({
  data: {
    testCredential: {
      __typename: 'TestCredentialResult',
      result,
      message: result === 'INVALID' ? 'API token is invalid.' : null,
      account: null,
      scopes: [],
      rateLimitRemaining: 3,
    },
  },
});

function setup(responders: Record<string, Responder>) {
  const { client, calls } = mockClient(responders);
  const onOpenChange = vi.fn();
  renderWithClient(
    <EditCredentialDialog
      open
      onOpenChange={onOpenChange}
      credential={{ id: 'c1', service: 'notion', name: 'Work', metadata: { team: 'core' } }}
      serviceName="Notion"
      fields={fields}
    />,
    client,
  );
  return { user: userEvent.setup(), calls, onOpenChange };
}

const save = () => screen.getByRole('button', { name: 'Save' });

describe('EditCredentialDialog', () => {
  it('saves a new name and labels without touching the secret', async () => {
    const { user, calls, onOpenChange } = setup({ UpdateCredential: () => updated });
    expect(save()).toBeDisabled();
    expect(screen.getByLabelText('Label 1 value')).toHaveValue('core');
    await user.clear(screen.getByLabelText('Name'));
    await user.type(screen.getByLabelText('Name'), 'Office');
    await user.click(screen.getByRole('button', { name: 'Add label' }));
    await user.type(screen.getByLabelText('Label 2 name'), 'env');
    await user.type(screen.getByLabelText('Label 2 value'), 'prod');
    await user.click(save());
    await waitFor(() => expect(onOpenChange).toHaveBeenCalledWith(false));
    expect(calls.find((c) => c.name === 'UpdateCredential')?.variables).toEqual({
      id: 'c1',
      input: { name: 'Office', metadata: { team: 'core', env: 'prod' } },
    });
  });

  it('sends only what the person changed, though the credential changed elsewhere meanwhile', async () => {
    const { client, calls } = mockClient({ UpdateCredential: () => updated });
    const dialog = (credential: { name: string; metadata: Record<string, unknown> }) => (
      <EditCredentialDialog
        open
        onOpenChange={() => {}}
        credential={{ id: 'c1', service: 'notion', ...credential }}
        serviceName="Notion"
        fields={fields}
      />
    );
    const user = userEvent.setup();
    const { rerender } = renderWithClient(dialog({ name: 'Work', metadata: { team: 'core' } }), client);
    await user.type(screen.getByLabelText('Label 1 value'), '-infra');
    // Another tab renames it and labels it anew; the live update brings that here.
    rerender(dialog({ name: 'Office', metadata: { team: 'platform' } }));
    await user.click(save());
    await waitFor(() => expect(calls.map((c) => c.name)).toContain('UpdateCredential'));
    expect(calls.find((c) => c.name === 'UpdateCredential')?.variables).toEqual({
      id: 'c1',
      input: { metadata: { team: 'core-infra' } },
    });
  });

  it('does not send back labels changed elsewhere when only the name was changed', async () => {
    const { client, calls } = mockClient({ UpdateCredential: () => updated });
    const dialog = (metadata: Record<string, unknown>) => (
      <EditCredentialDialog
        open
        onOpenChange={() => {}}
        credential={{ id: 'c1', service: 'notion', name: 'Work', metadata }}
        serviceName="Notion"
        fields={fields}
      />
    );
    const user = userEvent.setup();
    const { rerender } = renderWithClient(dialog({ team: 'core' }), client);
    await user.clear(screen.getByLabelText('Name'));
    await user.type(screen.getByLabelText('Name'), 'Personal');
    rerender(dialog({ team: 'platform' }));
    await user.click(save());
    await waitFor(() => expect(calls.map((c) => c.name)).toContain('UpdateCredential'));
    expect(calls.find((c) => c.name === 'UpdateCredential')?.variables).toEqual({
      id: 'c1',
      input: { name: 'Personal' },
    });
  });

  it('says a label with a value needs a name, and sends nothing until it has one', async () => {
    const { user, calls, onOpenChange } = setup({ UpdateCredential: () => updated });
    await user.clear(screen.getByLabelText('Name'));
    await user.type(screen.getByLabelText('Name'), 'Office');
    await user.click(screen.getByRole('button', { name: 'Add label' }));
    await user.type(screen.getByLabelText('Label 2 value'), 'prod');
    await user.click(save());
    expect(await screen.findByText('Give label 2 a name, or remove it.')).toBeInTheDocument();
    expect(screen.getByLabelText('Label 2 name')).toHaveAttribute('aria-invalid', 'true');
    expect(calls.filter((c) => c.name === 'UpdateCredential')).toHaveLength(0);

    await user.type(screen.getByLabelText('Label 2 name'), 'env');
    expect(screen.queryByText('Give label 2 a name, or remove it.')).not.toBeInTheDocument();
    await user.click(save());
    await waitFor(() => expect(onOpenChange).toHaveBeenCalledWith(false));
    expect(calls.find((c) => c.name === 'UpdateCredential')?.variables).toEqual({
      id: 'c1',
      input: { name: 'Office', metadata: { team: 'core', env: 'prod' } },
    });
  });

  it('replaces the secret only after a successful test of the new value', async () => {
    const { user, calls } = setup({
      TestCredential: (v) =>
        testAnswer((v.fields as Record<string, string>).token === 'ntn_new' ? 'VALID' : 'INVALID'),
      UpdateCredential: () => updated,
    });
    await user.click(screen.getByLabelText('Replace the secret'));
    const token = screen.getByLabelText(/internal integration token/i);
    expect(token).toHaveAttribute('type', 'text');
    expect(token).toHaveClass('[-webkit-text-security:disc]');
    await user.type(token, 'ntn_bad');
    await user.click(screen.getByRole('button', { name: 'Test credential' }));
    expect(await screen.findByText('API token is invalid.')).toBeInTheDocument();
    expect(save()).toBeDisabled();

    await user.clear(token);
    await user.type(token, 'ntn_new');
    await user.click(screen.getByRole('button', { name: 'Test credential' }));
    await screen.findByText('The credential is valid.');
    expect(save()).toBeEnabled();
    await user.click(save());
    await waitFor(() => expect(calls.map((c) => c.name)).toContain('UpdateCredential'));
    expect(calls.find((c) => c.name === 'UpdateCredential')?.variables).toEqual({
      id: 'c1',
      input: { fields: { token: 'ntn_new' } },
    });
  });

  it('shows the provider’s refusal when saving and stays open', async () => {
    const { user, onOpenChange } = setup({
      TestCredential: () => testAnswer('VALID'),
      UpdateCredential: () => ({
        errors: [
          {
            message: 'The provider refused the new secret: API token is invalid.',
            extensions: { code: 'INVALID_CREDENTIAL' },
          },
        ],
      }),
    });
    await user.click(screen.getByLabelText('Replace the secret'));
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_new');
    await user.click(screen.getByRole('button', { name: 'Test credential' }));
    await screen.findByText('The credential is valid.');
    await user.click(save());
    expect(await screen.findByText(/refused the new secret/)).toBeInTheDocument();
    expect(onOpenChange).not.toHaveBeenCalledWith(false);
  });

  it('keeps a sent secret in no component’s state once the form has let go of it', async () => {
    let saves = 0;
    const second = deferred<Answer>();
    const { client } = mockClient({
      TestCredential: () => testAnswer('VALID'),
      UpdateCredential: () =>
        ++saves === 1
          ? {
              errors: [
                {
                  message: 'The provider refused the new secret: API token is invalid.',
                  extensions: { code: 'INVALID_CREDENTIAL' },
                },
              ],
            }
          : second.promise,
    });
    function Card() {
      const [open, setOpen] = useState(true);
      return (
        <EditCredentialDialog
          open={open}
          onOpenChange={setOpen}
          credential={{ id: 'c1', service: 'notion', name: 'Work', metadata: {} }}
          serviceName="Notion"
          fields={fields}
        />
      );
    }
    const user = userEvent.setup();
    const { container } = renderWithClient(<Card />, client);
    const replace = screen.getByLabelText('Replace the secret');
    await user.click(replace);
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_canary_refused');
    await user.click(screen.getByRole('button', { name: 'Test credential' }));
    await screen.findByText('The credential is valid.');
    await user.click(save());
    expect(await screen.findByText(/refused the new secret/)).toBeInTheDocument();
    // The form holds what was typed while it is open: the search sees it.
    expect(retainedIn(container, 'ntn_canary_refused')).not.toEqual([]);

    // Another secret typed in its place: nothing keeps the one sent, not even the test that passed
    // it, before the new one is tested; Save waits for that test.
    const token = screen.getByLabelText(/internal integration token/i);
    await user.clear(token);
    await user.type(token, 'ntn_canary_retyped');
    expect(retainedIn(container, 'ntn_canary_refused')).toEqual([]);
    expect(save()).toBeDisabled();
    expect(
      screen.getByText('The values changed since the last test. Test the credential again before saving it.'),
    ).toBeInTheDocument();

    // Not replacing the secret after all drops what was typed: nothing keeps what was sent.
    await user.click(replace);
    expect(retainedIn(container, 'ntn_canary_retyped')).toEqual([]);

    await user.click(replace);
    await user.type(screen.getByLabelText(/internal integration token/i), 'ntn_canary_saved');
    await user.click(screen.getByRole('button', { name: 'Test credential' }));
    await screen.findByText('The credential is valid.');
    await user.click(save());
    await waitFor(() => expect(save()).toBeDisabled());
    expect(screen.getByRole('button', { name: 'Cancel' })).toBeDisabled();
    second.resolve(updated);
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(saves).toBe(2);
    expect(retainedIn(container, 'ntn_canary_saved')).toEqual([]);
    expect(retainedIn(container, 'ntn_canary_refused')).toEqual([]);
  });

  it('cannot be closed while the change is on its way, and then shows the refusal', async () => {
    const answer = deferred<Answer>();
    const { client } = mockClient({ UpdateCredential: () => answer.promise });
    function Card() {
      const [open, setOpen] = useState(true);
      return (
        <EditCredentialDialog
          open={open}
          onOpenChange={setOpen}
          credential={{ id: 'c1', service: 'notion', name: 'Work', metadata: {} }}
          serviceName="Notion"
          fields={fields}
        />
      );
    }
    const user = userEvent.setup();
    renderWithClient(<Card />, client);
    await user.clear(screen.getByLabelText('Name'));
    await user.type(screen.getByLabelText('Name'), 'Office');
    await user.click(save());
    await waitFor(() => expect(screen.getByRole('button', { name: 'Cancel' })).toBeDisabled());
    expect(screen.queryByRole('button', { name: 'Close' })).not.toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.getByRole('dialog', { name: 'Edit Work' })).toBeInTheDocument();

    answer.resolve({
      errors: [
        { message: 'A Notion credential named "Office" already exists.', extensions: { code: 'CONFLICT' } },
      ],
    });
    expect(await screen.findByRole('alert')).toHaveTextContent('named "Office" already exists');
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
  });
});
