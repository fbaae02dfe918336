import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import {
  Client,
  cacheExchange,
  fetchExchange,
  mapExchange,
  subscriptionExchange,
  type CombinedError,
} from 'urql';
import { markOffline, setLiveState, trackedFetch } from './connection';

export interface GraphqlClient {
  client: Client;
  /** Closes the subscription socket; call it before dropping the client (sign-in, sign-out). */
  dispose: () => void;
}

interface Options {
  /** Called when any operation answers UNAUTHENTICATED (the session ended). */
  onUnauthenticated?: (error: CombinedError) => void;
}

function websocketUrl() {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}/graphql`;
}

/**
 * The app's GraphQL client: queries and mutations POSTed as JSON to `/graphql` (never GET, never
 * batched) with the same-origin session cookie, subscriptions over graphql-transport-ws on the
 * same path. Nothing here logs operations or their variables: they may hold secrets.
 */
export function createGraphqlClient({ onUnauthenticated }: Options = {}): GraphqlClient {
  let ws: WsClient | null = null;
  const socket = () => {
    ws ??= createWsClient({
      url: websocketUrl(),
      lazy: true,
      keepAlive: 15_000,
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => true,
      on: {
        connecting: () => setLiveState('connecting'),
        connected: () => setLiveState('connected'),
        closed: (event) => {
          setLiveState('closed');
          // A socket that could not open or dropped without a clean close: the server is gone.
          if ((event as { code?: number } | undefined)?.code !== 1000) markOffline();
        },
      },
    });
    return ws;
  };

  const client = new Client({
    url: '/graphql',
    preferGetMethod: false,
    requestPolicy: 'cache-first',
    fetchOptions: { credentials: 'same-origin' },
    fetch: trackedFetch,
    exchanges: [
      mapExchange({
        onError(error) {
          const code = error.graphQLErrors[0]?.extensions?.code;
          if (code === 'UNAUTHENTICATED') onUnauthenticated?.(error);
        },
      }),
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = socket().subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });

  return {
    client,
    dispose: () => {
      void ws?.dispose();
      ws = null;
    },
  };
}
