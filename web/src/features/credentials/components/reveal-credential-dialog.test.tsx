import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { deferred, mockClient, type Answer } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { retainedIn, statesIn } from '@/test/retained';
import { RevealCredentialDialog } from './reveal-credential-dialog';

const revealed: Answer = {
  data: {
    revealCredential: {
      __typename: 'RevealedCredential',
      credentialId: 'cred-1',
      fields: { token: 'ntn_canary_revealed' },
      revealedAt: '2026-12-07T10:00:00Z',
    },
  },
};

/** The dialog as a credential's card holds it: opened by its Reveal button, or open from the start. */
function Card({ startOpen = false }: { startOpen?: boolean }) {
  const [open, setOpen] = useState(startOpen);
  return (
    <>
      <button onClick={() => setOpen(true)}>Reveal</button>
      <RevealCredentialDialog
        open={open}
        onOpenChange={setOpen}
        credentialId="cred-1"
        name="Work"
        serviceName="Notion"
      />
    </>
  );
}

describe('RevealCredentialDialog', () => {
  it('keeps a revealed secret only where it is shown, and nowhere once hidden or closed', async () => {
    let answer = deferred<Answer>();
    const { client } = mockClient({ RevealCredential: () => answer.promise });
    const user = userEvent.setup();
    const { container } = renderWithClient(<Card />, client);
    const open = async () => {
      await user.click(screen.getByRole('button', { name: 'Reveal' }));
      return screen.findByRole('dialog', { name: 'Reveal Work' });
    };

    let dialog = await open();
    await user.click(within(dialog).getByRole('button', { name: 'Reveal secret' }));
    await waitFor(() => expect(within(dialog).getByRole('button', { name: 'Reveal secret' })).toBeDisabled());
    answer.resolve(revealed);
    expect(await within(dialog).findByText('ntn_canary_revealed')).toBeInTheDocument();
    // Kept in the panel's state that shows it, and in the elements it is shown in.
    const where = retainedIn(container, 'ntn_canary_revealed');
    expect(where).toContain('code.props.children');
    expect(statesIn(where)).toEqual([expect.stringMatching(/^RevealPanel\.hooks\[\d+\]$/)]);
    expect(where.filter((p) => p.includes('.props.') && !p.endsWith('.props.children'))).toEqual([]);

    await user.click(within(dialog).getByRole('button', { name: 'Hide now' }));
    expect(retainedIn(container, 'ntn_canary_revealed')).toEqual([]);

    answer = deferred<Answer>();
    await user.click(within(dialog).getByRole('button', { name: 'Reveal secret' }));
    answer.resolve(revealed);
    expect(await within(dialog).findByText('ntn_canary_revealed')).toBeInTheDocument();
    // The panel's Close (the corner's ✕ is named Close too).
    await user.click(within(dialog).getAllByRole('button', { name: 'Close' })[0]);
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(retainedIn(container, 'ntn_canary_revealed')).toEqual([]);

    dialog = await open();
    expect(within(dialog).getByTestId('secret-hidden')).toBeInTheDocument();
  });

  it('cannot be closed while the secret is on its way, and then shows it', async () => {
    const answer = deferred<Answer>();
    const { client } = mockClient({ RevealCredential: () => answer.promise });
    const user = userEvent.setup();
    renderWithClient(<Card startOpen />, client);
    const dialog = screen.getByRole('dialog', { name: 'Reveal Work' });
    await user.click(within(dialog).getByRole('button', { name: 'Reveal secret' }));
    await waitFor(() => expect(within(dialog).getByRole('button', { name: 'Reveal secret' })).toBeDisabled());
    // The corner's ✕ is gone; the panel's Close waits too.
    expect(within(dialog).getAllByRole('button', { name: 'Close' })).toHaveLength(1);
    expect(within(dialog).getByRole('button', { name: 'Close' })).toBeDisabled();
    await user.keyboard('{Escape}');
    expect(screen.getByRole('dialog', { name: 'Reveal Work' })).toBeInTheDocument();

    // The server recorded the disclosure: its secret is shown, not lost with a closed dialog.
    answer.resolve(revealed);
    expect(await within(dialog).findByText('ntn_canary_revealed')).toBeInTheDocument();
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
  });

  it('empties the clipboard it copied the secret to when the secret hides or the dialog closes', async () => {
    const { client } = mockClient({ RevealCredential: () => revealed });
    const user = userEvent.setup();
    // A stubbed clipboard that keeps what was last written.
    let clipboard = 'something of the person’s';
    const writeText = vi.fn(async (text: string) => {
      clipboard = text;
    });
    const before = Object.getOwnPropertyDescriptor(navigator, 'clipboard');
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    try {
      renderWithClient(<Card />, client);
      const reveal = async () => {
        await user.click(screen.getByRole('button', { name: 'Reveal' }));
        const dialog = await screen.findByRole('dialog', { name: 'Reveal Work' });
        await user.click(within(dialog).getByRole('button', { name: 'Reveal secret' }));
        await within(dialog).findByText('ntn_canary_revealed');
        return dialog;
      };

      // Hidden without a copy: the clipboard is not this panel's to clear.
      let dialog = await reveal();
      expect(within(dialog).getByTestId('revealed-secret')).toHaveTextContent(
        'a copied value is then cleared from the clipboard',
      );
      await user.click(within(dialog).getByRole('button', { name: 'Hide now' }));
      expect(clipboard).toBe('something of the person’s');

      // Copied, then hidden.
      await user.click(within(dialog).getByRole('button', { name: 'Reveal secret' }));
      await user.click(await within(dialog).findByRole('button', { name: 'Copy token' }));
      expect(clipboard).toBe('ntn_canary_revealed');
      await user.click(within(dialog).getByRole('button', { name: 'Hide now' }));
      expect(clipboard).toBe('');

      // Copied, then the dialog closed.
      await user.click(within(dialog).getAllByRole('button', { name: 'Close' })[0]);
      await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
      dialog = await reveal();
      await user.click(within(dialog).getByRole('button', { name: 'Copy token' }));
      expect(clipboard).toBe('ntn_canary_revealed');
      await user.click(within(dialog).getAllByRole('button', { name: 'Close' })[0]);
      await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
      expect(clipboard).toBe('');
    } finally {
      if (before) Object.defineProperty(navigator, 'clipboard', before);
      else delete (navigator as { clipboard?: Clipboard }).clipboard;
    }
  });
});
