import { render, type RenderOptions } from '@testing-library/react';
import type { ReactElement, ReactNode } from 'react';
import { Provider, type Client } from 'urql';
import { SessionContext, type Session } from '@/lib/session';

export const testSession: Session = {
  userId: 'ada',
  displayName: 'Ada Lovelace',
  email: 'ada@example.test',
  isAdmin: false,
  canViewAllCredentials: false,
  signOut: async () => null,
};

/** Renders inside a GraphQL client and a signed-in session, as the app does. */
export function renderWithClient(
  ui: ReactElement,
  client: Client,
  { session = testSession, ...options }: RenderOptions & { session?: Session } = {},
) {
  const Wrapper = ({ children }: { children: ReactNode }) => (
    <Provider value={client}>
      <SessionContext.Provider value={session}>{children}</SessionContext.Provider>
    </Provider>
  );
  return render(ui, { wrapper: Wrapper, ...options });
}
