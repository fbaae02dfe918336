import { createContext, useContext } from 'react';

/** Who is signed in, as every page needs it. */
export interface Session {
  userId: string;
  displayName: string;
  email: string;
  isAdmin: boolean;
  /**
   * May list everyone's credentials (metadata): administrators and holders of
   * `credentials.view_all`, as the API's `allCredentials` allows.
   */
  canViewAllCredentials: boolean;
  /**
   * Ends the session on the server and returns to the sign-in page: `null`. When the server
   * did not take it, the person is still signed in: why, in words.
   */
  signOut: () => Promise<string | null>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession is used outside a signed-in page');
  return session;
}
