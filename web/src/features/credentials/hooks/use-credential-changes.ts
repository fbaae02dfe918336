import { useEffect } from 'react';
import { useClient, type OperationResult } from 'urql';
import { onEnd, pipe, subscribe, type Subscription } from 'wonka';
import { graphql } from '@/gql';
import { refetchPages } from '@/lib/connection';
import { apiFailure, type ErrorCode } from '@/lib/errors';
import { credentialContext } from '../api/context';

const CredentialChangedSubscription = graphql(`
  subscription CredentialChanged {
    credentialChanged {
      credentialId
      action
      position
    }
  }
`);

/** The wait before subscribing again after the subscription ended: doubled each time, up to a cap. */
export const RESUBSCRIBE_FIRST_MS = 1_000;
export const RESUBSCRIBE_MAX_MS = 30_000;

/**
 * The errors another try may be answered differently: the server busy, failing or unreachable,
 * or the session ended (the sign-in page then takes over, and this stops). Any other refusal
 * (FORBIDDEN: the token lacks the scope; VALIDATION) would be answered the same for ever.
 */
const TRIED_AGAIN: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'UNAUTHENTICATED',
  'RATE_LIMITED',
  'INTERNAL',
  'UNAVAILABLE',
  'NETWORK',
]);

/**
 * Keeps every credential view current: each `credentialChanged` event invalidates the queries
 * tagged `Credential`, which the document cache then refetches in the background.
 *
 * When the server ends the subscription (a Complete, or an error) it is asked for again after a
 * wait, 1 s doubling up to 30 s and back to 1 s once an event arrives, and the pages refetch: they
 * may have missed events meanwhile. An error that comes with no event ends the subscription, for
 * good when another try would be refused the same (see `TRIED_AGAIN`); an error with an event is a
 * field of it that failed, and the subscription goes on. (urql carries the last event's data and
 * errors into each result after it: new data is an event, a new error with none its end.)
 * urql's `useSubscription` does not subscribe again by itself, and a socket the server closed
 * cleanly (1000) does not count as the server going away, so neither the offline banner nor its
 * recovery refetch would notice. It stops on sign-out, when the signed-in layout that calls it
 * unmounts.
 */
export function useCredentialChanges() {
  const client = useClient();
  useEffect(() => {
    let wait = RESUBSCRIBE_FIRST_MS;
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let current: Subscription | undefined;

    function listen() {
      let ended = false;
      let last: OperationResult | undefined;
      const end = (again: boolean) => {
        if (ended || stopped) return;
        ended = true;
        current?.unsubscribe();
        if (!again) return;
        retry = setTimeout(() => {
          listen();
          refetchPages();
        }, wait);
        wait = Math.min(wait * 2, RESUBSCRIBE_MAX_MS);
      };
      current = pipe(
        client.subscription(CredentialChangedSubscription, {}, credentialContext),
        onEnd(() => end(true)),
        subscribe((result) => {
          const event = !!result.data && result.data !== last?.data;
          const failed =
            !!result.error &&
            (!!result.error.networkError || result.error.graphQLErrors[0] !== last?.error?.graphQLErrors[0]);
          last = result;
          if (event) wait = RESUBSCRIBE_FIRST_MS;
          else if (failed) end(TRIED_AGAIN.has(apiFailure(result.error)?.code ?? 'NETWORK'));
        }),
      );
    }

    listen();
    return () => {
      stopped = true;
      clearTimeout(retry);
      current?.unsubscribe();
    };
  }, [client]);
}
