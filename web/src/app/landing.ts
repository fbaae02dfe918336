import { MeQuery } from '@/features/auth/api/session';
import { credentialContext } from '@/features/credentials/api/context';
import { CredentialsPageQuery } from '@/features/credentials/components/credentials-page';
import type { GraphqlClient } from '@/lib/graphql-client';

/**
 * Starts the queries the first screen waits for — who is signed in and, on the credentials
 * page, its data — on a new client, before any component asks. The components' own queries
 * then find them in flight or answered (same document, same variables). Without a session the
 * page query answers UNAUTHENTICATED, which this client ignores (nobody is signed in yet).
 */
export function startLandingQueries(current: GraphqlClient): GraphqlClient {
  const { client } = current;
  void client.query(MeQuery, {}).toPromise();
  const path = window.location.pathname;
  if (path === '/' || path === '/credentials') {
    void client.query(CredentialsPageQuery, {}, credentialContext).toPromise();
  }
  return current;
}
