import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGraphqlClient } from '@/lib/graphql-client';
import { startLandingQueries } from './landing';

/** The operation names POSTed to /graphql, in order. */
function recordRequests() {
  const names: string[] = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (_url, init) => {
    const body = JSON.parse(String(init?.body)) as { query: string };
    names.push(/(query|mutation) (\w+)/.exec(body.query)?.[2] ?? '?');
    return new Response(JSON.stringify({ data: null }), {
      headers: { 'content-type': 'application/json' },
    });
  });
  return names;
}

describe('startLandingQueries', () => {
  afterEach(() => window.history.replaceState(null, '', '/'));

  it('asks who is signed in and for the credentials page at once, before any component', async () => {
    const names = recordRequests();
    window.history.replaceState(null, '', '/credentials');
    const client = startLandingQueries(createGraphqlClient());
    await vi.waitFor(() => expect(names).toHaveLength(2));
    expect(names.sort()).toEqual(['CredentialsPage', 'Me']);
    client.dispose();
  });

  it('asks only who is signed in on another page', async () => {
    const names = recordRequests();
    window.history.replaceState(null, '', '/audit');
    const client = startLandingQueries(createGraphqlClient());
    await vi.waitFor(() => expect(names).toEqual(['Me']));
    client.dispose();
  });
});
