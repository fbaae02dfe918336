import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import { deferred, mockClient, type Answer } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { DeleteCredentialDialog } from './delete-credential-dialog';

describe('DeleteCredentialDialog', () => {
  it('cannot be closed while the deletion is on its way, and then shows the refusal', async () => {
    const answer = deferred<Answer>();
    const { client } = mockClient({ DeleteCredential: () => answer.promise });
    function Card() {
      const [open, setOpen] = useState(true);
      return (
        <DeleteCredentialDialog
          open={open}
          onOpenChange={setOpen}
          credentialId="c1"
          name="Work"
          isPrimary={false}
          serviceName="Notion"
        />
      );
    }
    const user = userEvent.setup();
    renderWithClient(<Card />, client);
    await user.type(screen.getByLabelText(/to confirm/i), 'Work');
    await user.click(screen.getByRole('button', { name: 'Delete credential' }));
    await waitFor(() => expect(screen.getByRole('button', { name: 'Cancel' })).toBeDisabled());
    expect(screen.queryByRole('button', { name: 'Close' })).not.toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.getByRole('dialog', { name: 'Delete Work?' })).toBeInTheDocument();

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
