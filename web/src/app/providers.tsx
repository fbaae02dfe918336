import {
  createContext,
  Fragment,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useState,
  type ReactNode,
} from 'react';
import { Provider } from 'urql';
import { clearToasts } from '@/components/ui/use-toast';
import { createGraphqlClient, type GraphqlClient } from '@/lib/graphql-client';
import { openSessionChannel, type SessionChannel } from '@/lib/session-channel';
import { startLandingQueries } from './landing';

interface ClientControl {
  /**
   * Someone signed in or out in this tab: starts over with a fresh client (see `GraphqlProvider`)
   * and tells this origin's other tabs to do the same.
   */
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

/** The client, and how many times the app started over: what is rendered under it is keyed by it. */
interface Current {
  graphql: GraphqlClient;
  generation: number;
}

/**
 * The GraphQL client for everything under it. Starting over — a sign-in or sign-out here or in
 * another tab, or the server ending the session — drops the client (its cache and its socket),
 * every component's state under the provider and the messages, so nothing of the last person
 * stays on screen.
 */
export function GraphqlProvider({ children }: { children: ReactNode }) {
  const signedIn = useRef(false);
  const channel = useRef<SessionChannel | null>(null);

  const make = useCallback(
    (): GraphqlClient =>
      createGraphqlClient({
        onUnauthenticated: () => {
          // The session ended while the app was open: start over at the sign-in page, with
          // none of the last person's messages on it.
          if (signedIn.current) {
            signedIn.current = false;
            clearToasts();
            setCurrent((old) => following(old, make));
          }
        },
      }),
    [],
  );

  // The first client is made during the first render, and the landing page's queries start at
  // once: they travel while React renders instead of after it.
  const [current, setCurrent] = useState<Current>(() => ({
    graphql: startLandingQueries(make()),
    generation: 0,
  }));

  useEffect(() => () => current.graphql.dispose(), [current]);

  const startOver = useCallback(() => {
    clearToasts();
    setCurrent((old) => following(old, make));
  }, [make]);

  useEffect(() => {
    const opened = openSessionChannel(() => {
      // Another tab signed in or out: whoever this tab shows may no longer be signed in.
      signedIn.current = false;
      startOver();
    });
    channel.current = opened;
    return () => {
      opened.close();
      channel.current = null;
    };
  }, [startOver]);

  const reset = useCallback(() => {
    startOver();
    channel.current?.announce();
  }, [startOver]);

  const setSignedIn = useCallback((value: boolean) => {
    signedIn.current = value;
  }, []);

  return (
    <ClientControlContext.Provider value={{ reset, setSignedIn }}>
      <Provider value={current.graphql.client}>
        <Fragment key={current.generation}>{children}</Fragment>
      </Provider>
    </ClientControlContext.Provider>
  );
}

function following(old: Current, make: () => GraphqlClient): Current {
  old.graphql.dispose();
  return { graphql: make(), generation: old.generation + 1 };
}
