import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useEffect, useState } from 'react';
import { useQuery } from 'urql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clearToasts, toast, useToasts } from '@/components/ui/use-toast';
import { MeQuery } from '@/features/auth/api/session';
import { openSessionChannel } from '@/lib/session-channel';
import { GraphqlProvider, useClientControl } from './providers';

const unauthenticated = { errors: [{ message: 'sign in first', extensions: { code: 'UNAUTHENTICATED' } }] };
const signedIn = (name: string) => ({
  data: {
    me: {
      __typename: 'Me',
      id: name.toLowerCase(),
      email: `${name}@example.test`,
      displayName: name,
      role: 'USER',
    },
  },
});

/** The server, as far as this tab can tell: answers `Me` with whoever `answer()` names. */
function serve(answer: () => object) {
  return vi
    .spyOn(globalThis, 'fetch')
    .mockImplementation(
      async () => new Response(JSON.stringify(answer()), { headers: { 'content-type': 'application/json' } }),
    );
}

const meCalls = (fetch: ReturnType<typeof serve>) => fetch.mock.calls.length;

/**
 * Waits until the line that matches `who` also reads `rest`. A page's messages are posted by an
 * effect after the render that shows who is signed in, so the two can be seen one render apart.
 */
async function expectLine(who: RegExp, rest: string | RegExp) {
  await waitFor(() => expect(screen.getByText(who)).toHaveTextContent(rest));
}

/** A page as the session gate makes it: who is signed in, a message, and some state of its own. */
function Probe() {
  const { reset, setSignedIn } = useClientControl();
  const [{ data, error }, refetch] = useQuery({ query: MeQuery });
  const me = data?.me;
  const [notes, setNotes] = useState(0);
  const toasts = useToasts();
  useEffect(() => {
    setSignedIn(!!me);
    if (me) toast({ title: `Notion refused ${me.displayName}'s Work` });
  }, [me, setSignedIn]);
  return (
    <>
      <p>
        {me ? `signed in: ${me.displayName}` : error ? 'signed out' : 'asking'}; notes: {notes}; messages:{' '}
        {toasts.map((t) => t.title).join(',') || 'none'}
      </p>
      <button onClick={() => setNotes((n) => n + 1)}>Note</button>
      <button onClick={() => refetch({ requestPolicy: 'network-only' })}>Refetch</button>
      <button onClick={reset}>Sign out here</button>
    </>
  );
}

function setup() {
  render(
    <GraphqlProvider>
      <Probe />
    </GraphqlProvider>,
  );
  return userEvent.setup();
}

describe('GraphqlProvider', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    clearToasts();
  });

  it('drops the last person’s messages when the server says the session ended', async () => {
    let answer: object = signedIn('Ada');
    serve(() => answer);
    const user = setup();
    await expectLine(/signed in: Ada/, "Notion refused Ada's Work");
    answer = unauthenticated;
    await user.click(screen.getByRole('button', { name: 'Refetch' }));
    await expectLine(/signed out/, /messages: none$/);
  });

  it('drops its cache, its pages’ state and its messages when another tab signs in or out', async () => {
    let answer: object = signedIn('Ada');
    const fetch = serve(() => answer);
    const user = setup();
    await screen.findByText(/signed in: Ada/);
    await user.click(screen.getByRole('button', { name: 'Note' }));
    expect(screen.getByText(/signed in: Ada/)).toHaveTextContent(
      "notes: 1; messages: Notion refused Ada's Work",
    );
    const asked = meCalls(fetch);

    // In another tab of this browser, Ada signs out and Grace signs in: the cookie is Grace's.
    answer = signedIn('Grace');
    const otherTab = openSessionChannel(() => {});
    try {
      otherTab.announce();
      await expectLine(/signed in: Grace/, "notes: 0; messages: Notion refused Grace's Work");
      expect(meCalls(fetch)).toBe(asked + 1);

      // Signed out there: this tab shows the sign-in, not Grace's page.
      answer = unauthenticated;
      otherTab.announce();
      await expectLine(/signed out/, 'notes: 0; messages: none');
    } finally {
      otherTab.close();
    }
  });

  it('tells the other tabs when someone signs in or out here, and nothing more', async () => {
    const fetch = serve(() => signedIn('Ada'));
    const user = setup();
    await screen.findByText(/signed in: Ada/);
    const heard: unknown[] = [];
    const otherTab = new BroadcastChannel('credledger-session');
    otherTab.onmessage = (event: MessageEvent) => heard.push(event.data);
    try {
      const asked = meCalls(fetch);
      await user.click(screen.getByRole('button', { name: 'Sign out here' }));
      await waitFor(() => expect(heard).toEqual(['session-changed']));
      await screen.findByText(/signed in: Ada/);
      // This tab started over once: it does not hear its own message.
      await new Promise((r) => setTimeout(r, 50));
      expect(meCalls(fetch)).toBe(asked + 1);
      expect(heard).toEqual(['session-changed']);
    } finally {
      otherTab.close();
    }
  });
});
