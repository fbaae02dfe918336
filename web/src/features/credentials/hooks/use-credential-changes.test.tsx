import { act } from '@testing-library/react';
import { useQuery } from 'urql';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetConnectionForTests } from '@/lib/connection';
import { useRefetchOnRecovery } from '@/lib/use-last-data';
import { fakeSubscriptions, mockClient } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { credentialContext } from '../api/context';
import { CredentialsPageQuery } from '../components/credentials-page';
import { useCredentialChanges } from './use-credential-changes';

const event = {
  credentialChanged: {
    __typename: 'CredentialChange',
    credentialId: 'c1',
    action: 'CredentialRenamed',
    position: 7,
  },
};

/** The signed-in layout's live updates, and a page that refetches when told to. */
function App() {
  useCredentialChanges();
  const [, refetch] = useQuery({ query: CredentialsPageQuery, context: credentialContext });
  useRefetchOnRecovery(refetch);
  return null;
}

function setup() {
  const server = fakeSubscriptions();
  const { client, calls } = mockClient(
    { CredentialsPage: () => ({ data: { dashboard: null, services: [], credentials: [] } }) },
    { exchanges: [server.exchange] },
  );
  const view = renderWithClient(<App />, client);
  const pageQueries = () => calls.filter((c) => c.name === 'CredentialsPage').length;
  return { server, pageQueries, view };
}

type Server = ReturnType<typeof fakeSubscriptions>;
type Errors = Parameters<Server['error']>[0];

const advance = (ms: number) => act(() => vi.advanceTimersByTimeAsync(ms));

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  resetConnectionForTests();
});

describe('useCredentialChanges', () => {
  it('subscribes again a second after the server completes the subscription, and refetches', async () => {
    const { server, pageQueries } = setup();
    await advance(0);
    expect(server.started()).toBe(1);
    expect(server.open()).toBe(1);
    const asked = pageQueries();

    await act(async () => server.complete());
    await advance(999);
    expect(server.open()).toBe(0);
    expect(pageQueries()).toBe(asked);
    await advance(1);
    expect(server.started()).toBe(2);
    expect(server.open()).toBe(1);
    // Events may have been missed while nobody listened: the credential queries are asked again.
    expect(pageQueries()).toBe(asked + 1);
  });

  it('subscribes again after the subscription ends with an error', async () => {
    const { server, pageQueries } = setup();
    await advance(0);
    const asked = pageQueries();
    await act(async () =>
      server.error([
        { message: 'The server cannot reach its database right now.', extensions: { code: 'UNAVAILABLE' } },
      ]),
    );
    await advance(1_000);
    expect(server.started()).toBe(2);
    expect(server.open()).toBe(1);
    expect(pageQueries()).toBe(asked + 1);
  });

  it.each([
    ['an error', 'VALIDATION', (server: Server, errors: Errors) => server.error(errors)],
    // As the server answers a refusal of the subscription's resolver: an event with no data, then Complete.
    [
      'an event with no data',
      'FORBIDDEN',
      (server: Server, errors: Errors) => {
        server.next(null, errors);
        server.complete();
      },
    ],
  ])(
    'does not subscribe again when refused with %s another try would not change (%s)',
    async (_, code, refuse) => {
      const { server, pageQueries } = setup();
      await advance(0);
      const asked = pageQueries();
      await act(async () => refuse(server, [{ message: 'Not for this token.', extensions: { code } }]));
      await advance(120_000);
      expect(server.started()).toBe(1);
      expect(server.open()).toBe(0);
      expect(pageQueries()).toBe(asked);
    },
  );

  it('subscribes again after an event with no data that another try may change', async () => {
    const { server } = setup();
    await advance(0);
    await act(async () => server.next(null, [{ message: 'Busy.', extensions: { code: 'UNAVAILABLE' } }]));
    expect(server.open()).toBe(0);
    await advance(1_000);
    expect(server.started()).toBe(2);
  });

  it('keeps the subscription, and its wait, through an event that carries data and an error', async () => {
    const { server, pageQueries } = setup();
    await advance(0);
    const asked = pageQueries();
    // A field of the event failed; the event and the subscription are still good.
    await act(async () =>
      server.next(event, [{ message: 'Could not read the credential.', extensions: { code: 'INTERNAL' } }]),
    );
    await act(async () => server.next(event));
    await advance(60_000);
    expect(server.started()).toBe(1);
    expect(server.open()).toBe(1);
    expect(pageQueries()).toBe(asked);

    // Its end waits the first second, not a doubled one.
    await act(async () => server.complete());
    await advance(1_000);
    expect(server.started()).toBe(2);
  });

  it('ends the subscription at an error after events: again if another try may change it, else for good', async () => {
    const { server } = setup();
    await advance(0);
    await act(async () => server.next(event));
    await act(async () => server.error([{ message: 'Busy.', extensions: { code: 'UNAVAILABLE' } }]));
    expect(server.open()).toBe(0);
    await advance(1_000);
    expect(server.started()).toBe(2);

    await act(async () => server.next(event));
    await act(async () =>
      server.error([{ message: 'Not for this token.', extensions: { code: 'FORBIDDEN' } }]),
    );
    await advance(120_000);
    expect(server.started()).toBe(2);
  });

  it('waits twice as long each time, up to 30 s, and a second again once an event arrived', async () => {
    const { server } = setup();
    await advance(0);
    for (const wait of [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]) {
      const started = server.started();
      await act(async () => server.complete());
      await advance(wait - 1);
      expect(server.started()).toBe(started);
      await advance(1);
      expect(server.started()).toBe(started + 1);
    }

    await act(async () => server.next(event));
    await act(async () => server.complete());
    await advance(1_000);
    expect(server.started()).toBe(9);
  });

  it('stops once the person signs out', async () => {
    const { server, view } = setup();
    await advance(0);
    await act(async () => server.complete());
    view.unmount();
    await advance(60_000);
    expect(server.started()).toBe(1);
    expect(server.open()).toBe(0);
  });
});
