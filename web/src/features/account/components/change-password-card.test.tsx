import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it } from 'vitest';
import { Toaster } from '@/components/ui/toaster';
import { clearToasts } from '@/components/ui/use-toast';
import { mockClient, type Responder } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { retainedIn } from '@/test/retained';
import { ChangePasswordCard } from './change-password-card';

function setup(responders: Record<string, Responder> = {}) {
  const { client, calls } = mockClient(responders);
  const { container } = renderWithClient(
    <>
      <ChangePasswordCard />
      <Toaster />
    </>,
    client,
  );
  const form = screen.getByRole('form', { name: 'Change password' });
  return { user: userEvent.setup(), calls, form, container };
}

beforeEach(() => clearToasts());

const current = () => screen.getByLabelText('Current password');
const next = () => screen.getByLabelText('New password');
const again = () => screen.getByLabelText('New password again');
const submit = () => screen.getByRole('button', { name: 'Change password' });
const sent = (calls: { name: string; variables: Record<string, unknown> }[]) =>
  calls.filter((c) => c.name === 'ChangePassword');

async function fill(user: ReturnType<typeof userEvent.setup>, a: string, b: string, c: string) {
  if (a) await user.type(current(), a);
  if (b) await user.type(next(), b);
  if (c) await user.type(again(), c);
}

describe('ChangePasswordCard', () => {
  it('states the length rule beside the new password', () => {
    setup();
    expect(next()).toHaveAccessibleDescription('At least 12 characters.');
    for (const field of [current(), next(), again()]) expect(field).toHaveAttribute('type', 'password');
  });

  it('asks for the current password before sending anything', async () => {
    const { user, calls, form } = setup();
    await fill(user, '', 'a-long-new-password', 'a-long-new-password');
    await user.click(submit());
    expect(within(form).getByRole('alert')).toHaveTextContent('Enter your current password.');
    expect(sent(calls)).toHaveLength(0);
  });

  it('refuses a new password shorter than 12 characters before sending', async () => {
    const { user, calls, form } = setup();
    await fill(user, 'old password', 'elevenchars', 'elevenchars');
    await user.click(submit());
    expect(within(form).getByRole('alert')).toHaveTextContent(
      'The new password needs at least 12 characters.',
    );
    expect(sent(calls)).toHaveLength(0);
  });

  it('refuses two different new passwords before sending', async () => {
    const { user, calls, form } = setup();
    await fill(user, 'old password', 'twelve-chars', 'twelve-charz');
    await user.click(submit());
    expect(within(form).getByRole('alert')).toHaveTextContent('The two new passwords differ.');
    expect(sent(calls)).toHaveLength(0);
  });

  it('sends both passwords, empties the form and says the other sessions ended', async () => {
    const { user, calls, form } = setup({ ChangePassword: () => ({ data: { changePassword: true } }) });
    await fill(user, 'old password', 'twelve-chars', 'twelve-chars');
    await user.click(submit());
    expect(await screen.findByText('Password changed')).toBeInTheDocument();
    expect(screen.getByText('Your other sessions have ended.')).toBeInTheDocument();
    expect(sent(calls).map((c) => c.variables)).toEqual([
      { currentPassword: 'old password', newPassword: 'twelve-chars' },
    ]);
    expect(current()).toHaveValue('');
    expect(next()).toHaveValue('');
    expect(again()).toHaveValue('');
    expect(within(form).queryByRole('alert')).not.toBeInTheDocument();
  });

  it('says the current password is wrong, keeping the new ones and not the refused one', async () => {
    const { user, form, container } = setup({
      ChangePassword: () => ({
        errors: [{ message: 'invalid password', extensions: { code: 'INVALID_CREDENTIAL' } }],
      }),
    });
    await fill(user, 'not my password', 'twelve-chars', 'twelve-chars');
    await user.click(submit());
    await waitFor(() =>
      expect(within(form).getByRole('alert')).toHaveTextContent('The current password is wrong.'),
    );
    expect(current()).toHaveValue('');
    expect(next()).toHaveValue('twelve-chars');
    expect(again()).toHaveValue('twelve-chars');
    expect(screen.queryByText('Password changed')).not.toBeInTheDocument();
    expect(retainedIn(container, 'not my password')).toEqual([]);
  });

  it('keeps neither password in any component’s state once the change is answered', async () => {
    const { user, container } = setup({ ChangePassword: () => ({ data: { changePassword: true } }) });
    await fill(user, 'old password', 'twelve-chars', 'twelve-chars');
    // While typed, the fields' state holds them: the search sees state.
    expect(retainedIn(container, 'old password')).not.toEqual([]);
    expect(retainedIn(container, 'twelve-chars')).not.toEqual([]);
    await user.click(submit());
    expect(await screen.findByText('Password changed')).toBeInTheDocument();
    expect(retainedIn(container, 'old password')).toEqual([]);
    expect(retainedIn(container, 'twelve-chars')).toEqual([]);
  });

  it("shows the server's reason for any other refusal", async () => {
    const { user, form } = setup({
      ChangePassword: () => ({
        errors: [
          { message: 'The new password is the same as the old one.', extensions: { code: 'VALIDATION' } },
        ],
      }),
    });
    await fill(user, 'old password', 'twelve-chars', 'twelve-chars');
    await user.click(submit());
    await waitFor(() =>
      expect(within(form).getByRole('alert')).toHaveTextContent(
        'The new password is the same as the old one.',
      ),
    );
  });

  it('counts the new password in characters, as the server does, not UTF-16 units', async () => {
    const { user, calls, form } = setup();
    // 11 characters, 12 UTF-16 units: the emoji is one character, two units.
    await fill(user, 'the-current-one', 'password-1😀', 'password-1😀');
    await user.click(submit());
    expect(within(form).getByRole('alert')).toHaveTextContent(
      'The new password needs at least 12 characters.',
    );
    expect(sent(calls)).toEqual([]);
  });
});
