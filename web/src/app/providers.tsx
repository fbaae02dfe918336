import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { Provider } from 'urql';
import { clearToasts } from '@/components/ui/use-toast';
import { createGraphqlClient, type GraphqlClient } from '@/lib/graphql-client';
import { startLandingQueries } from './landing';

interface ClientControl {
  /** Drops the client (its cache and its socket) and starts a fresh one: on sign-in and sign-out. */
  reset: () => void;
  /** Tells the provider whether someone is signed in, so that a lost session resets the client. */
  setSignedIn: (signedIn: boolean) => void;
}

const ClientControlContext = createContext<ClientControl | null>(null);

export function useClientControl(): ClientControl {
  const control = useContext(ClientControlContext);
  if (!control) throw new Error('useClientControl is used outside GraphqlProvider');
  return control;
}

export function GraphqlProvider({ children }: { children: ReactNode }) {
  const signedIn = useRef(false);

  const make = useCallback(
    (): GraphqlClient =>
      createGraphqlClient({
        onUnauthenticated: () => {
          // The session ended while the app was open: start over at the sign-in page, with
          // none of the last person's messages on it.
          if (signedIn.current) {
            signedIn.current = false;
            clearToasts();
            setCurrent((old) => {
              old.dispose();
              return make();
            });
          }
        },
      }),
    [],
  );

  // The first client is made during the first render, and the landing page's queries start at
  // once: they travel while React renders instead of after it.
  const [current, setCurrent] = useState<GraphqlClient>(() => startLandingQueries(make()));

  useEffect(() => () => current.dispose(), [current]);

  const reset = useCallback(() => {
    clearToasts();
    setCurrent((old) => {
      old.dispose();
      return make();
    });
  }, [make]);

  const setSignedIn = useCallback((value: boolean) => {
    signedIn.current = value;
  }, []);

  return (
    <ClientControlContext.Provider value={{ reset, setSignedIn }}>
      <Provider value={current.client}>{children}</Provider>
    </ClientControlContext.Provider>
  );
}
