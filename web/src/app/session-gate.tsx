import { useEffect, useMemo } from 'react';
import { useClient, useQuery, type Client } from 'urql';
import { ErrorState, SkeletonState } from '@/components/page-state';
import { MeQuery, LogoutMutation } from '@/features/auth/api/session';
import { SignInPage } from '@/features/auth/components/sign-in-page';
import type { Permission, Role } from '@/gql/graphql';
import { apiFailure } from '@/lib/errors';
import { useLastData, useRefetchOnRecovery } from '@/lib/use-last-data';
import { SessionContext, type Session } from '@/lib/session';
import { useClientControl } from './providers';
import { AppRouter } from './router';

/**
 * Ends the session on the server, then starts over at the sign-in page. When the server did
 * not take the sign-out (unreachable, rate-limited, failing) the session may still be live:
 * nothing is reset, and the answer says why, so the person knows they are still signed in.
 */
export async function signOutWith(
  client: Client,
  setSignedIn: (signedIn: boolean) => void,
  reset: () => void,
): Promise<string | null> {
  setSignedIn(false);
  const { error } = await client.mutation(LogoutMutation, {}).toPromise();
  const failure = apiFailure(error);
  // UNAUTHENTICATED: the session had ended already, which is what was asked.
  if (failure && failure.code !== 'UNAUTHENTICATED') {
    setSignedIn(true);
    return failure.message;
  }
  reset();
  return null;
}

/**
 * Whether the signed-in person may list everyone's credentials: as the API's `allCredentials`
 * decides, an administrator (who holds every permission) or a holder of credentials.view_all.
 */
export function mayViewAllCredentials(me: { role: Role; permissions: readonly Permission[] }): boolean {
  return me.role === 'ADMIN' || me.permissions.includes('CREDENTIALS_VIEW_ALL');
}

/** Asks the server who is signed in: the sign-in page if nobody, the app otherwise. */
export function SessionGate() {
  const client = useClient();
  const { reset, setSignedIn } = useClientControl();
  const [{ data: fresh, fetching, error }, refetch] = useQuery({ query: MeQuery });
  // A signed-in person stays in the app while the server is away; only the server saying
  // UNAUTHENTICATED ends the session.
  const kept = useLastData(fresh, client);
  const data = apiFailure(error)?.code === 'UNAUTHENTICATED' ? undefined : kept;
  useRefetchOnRecovery(refetch);
  const failure = apiFailure(error);
  const me = data?.me;

  useEffect(() => {
    setSignedIn(!!me);
  }, [me, setSignedIn]);

  const session = useMemo<Session | null>(
    () =>
      me
        ? {
            userId: me.id,
            displayName: me.displayName,
            email: me.email,
            isAdmin: me.role === 'ADMIN',
            canViewAllCredentials: mayViewAllCredentials(me),
            signOut: () => signOutWith(client, setSignedIn, reset),
          }
        : null,
    [me, client, reset, setSignedIn],
  );

  if (session) {
    return (
      <SessionContext.Provider value={session}>
        <AppRouter />
      </SessionContext.Provider>
    );
  }
  if (failure?.code === 'UNAUTHENTICATED') return <SignInPage onSignedIn={reset} />;
  // The shell's outline while the server says who is signed in: no full-screen spinner.
  if (fetching || !failure) {
    return (
      <div className="min-h-screen">
        <div className="h-14 border-b bg-background" aria-hidden="true" />
        <main className="mx-auto max-w-7xl px-4 py-6">
          <SkeletonState label="Loading credledger…" />
        </main>
      </div>
    );
  }
  return (
    <main className="mx-auto max-w-md px-4 py-20">
      <ErrorState
        title="credledger could not be reached"
        message={failure.message}
        onRetry={() => refetch({ requestPolicy: 'network-only' })}
      />
    </main>
  );
}
