import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import { deferred, mockClient, type Answer } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { RevokeCredentialDialog } from './revoke-credential-dialog';

describe('RevokeCredentialDialog', () => {
  it('cannot be closed while the revocation is on its way, and then shows the refusal', async () => {
    const answer = deferred<Answer>();
    const { client, calls } = mockClient({ RevokeCredential: () => answer.promise });
    function Card() {
      const [open, setOpen] = useState(true);
      return <RevokeCredentialDialog open={open} onOpenChange={setOpen} credentialId="c1" name="Work" />;
    }
    const user = userEvent.setup();
    renderWithClient(<Card />, client);
    await user.type(screen.getByLabelText(/reason/i), 'left the team');
    await user.click(screen.getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(screen.getByRole('button', { name: 'Revoke' })).toBeDisabled());
    expect(calls.find((c) => c.name === 'RevokeCredential')?.variables).toEqual({
      id: 'c1',
      reason: 'left the team',
    });
    expect(screen.getByRole('button', { name: 'Cancel' })).toBeDisabled();
    expect(screen.queryByRole('button', { name: 'Close' })).not.toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.getByRole('dialog', { name: 'Revoke Work?' })).toBeInTheDocument();

    answer.resolve({
      errors: [
        {
          message: 'The server cannot reach its database right now.',
          extensions: { code: 'UNAVAILABLE' },
        },
      ],
    });
    expect(await screen.findByRole('alert')).toHaveTextContent('cannot reach its database');
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
  });
});
