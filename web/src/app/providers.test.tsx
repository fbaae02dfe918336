import { render, screen, waitFor } from '@testing-library/react';
import { useEffect } from 'react';
import { useQuery } from 'urql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toast, useToasts } from '@/components/ui/use-toast';
import { MeQuery } from '@/features/auth/api/session';
import { GraphqlProvider, useClientControl } from './providers';

/** Signed in, with a message on screen, then asking who is signed in. */
function Probe() {
  const { setSignedIn } = useClientControl();
  useEffect(() => {
    setSignedIn(true);
    toast({ title: 'Notion refused Work' });
  }, [setSignedIn]);
  const [{ error }] = useQuery({ query: MeQuery });
  const toasts = useToasts();
  return (
    <p>
      {error ? 'answered' : 'asking'}: {toasts.map((t) => t.title).join(',') || 'none'}
    </p>
  );
}

describe('GraphqlProvider', () => {
  afterEach(() => vi.restoreAllMocks());

  it('drops the last person’s messages when the server says the session ended', async () => {
    vi.spyOn(globalThis, 'fetch').mockImplementation(
      async () =>
        new Response(
          JSON.stringify({ errors: [{ message: 'sign in first', extensions: { code: 'UNAUTHENTICATED' } }] }),
          { headers: { 'content-type': 'application/json' } },
        ),
    );
    render(
      <GraphqlProvider>
        <Probe />
      </GraphqlProvider>,
    );
    await waitFor(() => expect(screen.getByText(/none$/)).toBeInTheDocument());
    expect(screen.queryByText(/Notion refused Work/)).toBeNull();
  });
});
