import { describe, expect, it, vi } from 'vitest';
import { mockClient } from '@/test/mock-client';
import { mayViewAllCredentials, signOutWith } from './session-gate';

describe('signOutWith', () => {
  it('starts over when the server ended the session', async () => {
    const { client, calls } = mockClient({ Logout: () => ({ data: { logout: true } }) });
    const setSignedIn = vi.fn();
    const reset = vi.fn();
    expect(await signOutWith(client, setSignedIn, reset)).toBeNull();
    expect(calls.map((c) => c.name)).toEqual(['Logout']);
    expect(reset).toHaveBeenCalledTimes(1);
    expect(setSignedIn).toHaveBeenLastCalledWith(false);
  });

  it('keeps the person signed in, and says so, when the server did not take the sign-out', async () => {
    for (const code of ['RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL']) {
      const { client } = mockClient({
        Logout: () => ({ errors: [{ message: 'not now', extensions: { code } }] }),
      });
      const setSignedIn = vi.fn();
      const reset = vi.fn();
      const failed = await signOutWith(client, setSignedIn, reset);
      expect(failed, code).toBeTruthy();
      expect(reset).not.toHaveBeenCalled();
      expect(setSignedIn).toHaveBeenLastCalledWith(true);
    }
  });

  it('treats a session that had ended already as signed out', async () => {
    const { client } = mockClient({
      Logout: () => ({ errors: [{ message: 'sign in first', extensions: { code: 'UNAUTHENTICATED' } }] }),
    });
    const reset = vi.fn();
    expect(await signOutWith(client, vi.fn(), reset)).toBeNull();
    expect(reset).toHaveBeenCalledTimes(1);
  });
});

describe('mayViewAllCredentials', () => {
  it('is an administrator’s, and a member’s holding View all, as allCredentials answers them', () => {
    expect(mayViewAllCredentials({ role: 'ADMIN', permissions: [] })).toBe(true);
    expect(mayViewAllCredentials({ role: 'MEMBER', permissions: ['CREDENTIALS_VIEW_ALL'] })).toBe(true);
    expect(
      mayViewAllCredentials({
        role: 'MEMBER',
        permissions: ['CREDENTIALS_EDIT_ALL', 'CREDENTIALS_DELETE_ALL'],
      }),
    ).toBe(false);
    expect(mayViewAllCredentials({ role: 'MEMBER', permissions: [] })).toBe(false);
  });
});
