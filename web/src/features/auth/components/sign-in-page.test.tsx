import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { deferred, mockClient, type Answer, type Responder } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { retainedIn } from '@/test/retained';
import { SignInPage } from './sign-in-page';

const signedIn: Answer = {
  data: {
    login: { __typename: 'LoginPayload', user: { __typename: 'User', id: 'ada', displayName: 'Ada' } },
  },
};

function setup(responders: Record<string, Responder> = {}) {
  const { client, calls } = mockClient(responders);
  const onSignedIn = vi.fn();
  const { container } = renderWithClient(<SignInPage onSignedIn={onSignedIn} />, client);
  return { user: userEvent.setup(), calls, onSignedIn, container };
}

const loginField = () => screen.getByLabelText('Email or user id');
const passwordField = () => screen.getByLabelText('Password');
const signInButton = () => screen.getByRole('button', { name: 'Sign in' });

describe('SignInPage', () => {
  it('asks for both values before sending anything', async () => {
    const { user, calls, onSignedIn } = setup({ Login: () => signedIn });
    expect(screen.getByRole('heading', { name: 'Sign in to credledger' })).toBeInTheDocument();
    expect(loginField()).toHaveFocus();
    expect(passwordField()).toHaveAttribute('type', 'password');

    await user.click(signInButton());
    expect(screen.getByRole('alert')).toHaveTextContent('Enter your email or user id and your password.');

    await user.type(loginField(), '   ');
    await user.type(passwordField(), 'secret');
    await user.click(signInButton());
    expect(screen.getByRole('alert')).toHaveTextContent('Enter your email or user id and your password.');

    expect(calls.filter((c) => c.name === 'Login')).toHaveLength(0);
    expect(onSignedIn).not.toHaveBeenCalled();
  });

  it('signs in with the trimmed login and the password as typed', async () => {
    const { user, calls, onSignedIn } = setup({ Login: () => signedIn });
    await user.type(loginField(), '  ada@example.test ');
    await user.type(passwordField(), ' correct horse ');
    await user.click(signInButton());
    await waitFor(() => expect(onSignedIn).toHaveBeenCalledTimes(1));
    expect(calls.find((c) => c.name === 'Login')?.variables).toEqual({
      login: 'ada@example.test',
      password: ' correct horse ',
    });
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('signs in on Enter and disables the button while waiting', async () => {
    const answer = deferred<Answer>();
    const { user, onSignedIn } = setup({ Login: () => answer.promise });
    await user.type(loginField(), 'ada');
    await user.type(passwordField(), 'correct horse{Enter}');
    await waitFor(() => expect(signInButton()).toBeDisabled());
    expect(onSignedIn).not.toHaveBeenCalled();
    answer.resolve(signedIn);
    await waitFor(() => expect(onSignedIn).toHaveBeenCalledTimes(1));
  });

  it('does not say which part was wrong, and clears the password', async () => {
    const { user, onSignedIn } = setup({
      Login: () => ({
        errors: [{ message: 'account ada is locked', extensions: { code: 'FORBIDDEN' } }],
      }),
    });
    await user.type(loginField(), 'ada');
    await user.type(passwordField(), 'wrong password');
    await user.click(signInButton());
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The email, user id or password is wrong, or the account is locked.',
    );
    expect(screen.queryByText('account ada is locked')).not.toBeInTheDocument();
    expect(passwordField()).toHaveValue('');
    expect(loginField()).toHaveValue('ada');
    expect(onSignedIn).not.toHaveBeenCalled();
  });

  it('keeps a refused password in no component’s state', async () => {
    const { user, container } = setup({
      Login: () => ({ errors: [{ message: 'no', extensions: { code: 'UNAUTHENTICATED' } }] }),
    });
    await user.type(loginField(), 'ada');
    await user.type(passwordField(), 'almost my password');
    expect(retainedIn(container, 'almost my password')).not.toEqual([]);
    await user.click(signInButton());
    await screen.findByRole('alert');
    expect(retainedIn(container, 'almost my password')).toEqual([]);
  });

  it('says so when the server cannot be reached', async () => {
    const { user, onSignedIn } = setup({ Login: () => ({ networkError: new TypeError('Failed to fetch') }) });
    await user.type(loginField(), 'ada');
    await user.type(passwordField(), 'correct horse');
    await user.click(signInButton());
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The server could not be reached. Check your connection and try again.',
    );
    expect(onSignedIn).not.toHaveBeenCalled();
  });

  it('spells out the wait when sign-ins are rate limited', async () => {
    const { user } = setup({
      Login: () => ({
        errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED', retryAfter: 30 } }],
      }),
    });
    await user.type(loginField(), 'ada');
    await user.type(passwordField(), 'correct horse');
    await user.click(signInButton());
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Too many sign-in attempts. Try again in 30 s.',
    );
  });
});
