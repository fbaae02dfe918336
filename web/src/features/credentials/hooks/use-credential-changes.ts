import { useEffect } from 'react';
import { useClient } from 'urql';
import { onEnd, pipe, subscribe, type Subscription } from 'wonka';
import { graphql } from '@/gql';
import { refetchPages } from '@/lib/connection';
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
 * Keeps every credential view current: each `credentialChanged` event invalidates the queries
 * tagged `Credential`, which the document cache then refetches in the background.
 *
 * When the server ends the subscription (a Complete, or an error) it is asked for again after a
 * wait, 1 s doubling up to 30 s and back to 1 s once an event arrives, and the pages refetch: they
 * may have missed events meanwhile. urql's `useSubscription` does not subscribe again by itself,
 * and a socket the server closed cleanly (1000) does not count as the server going away, so
 * neither the offline banner nor its recovery refetch would notice. It stops on sign-out, when
 * the signed-in layout that calls it unmounts.
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
      const again = () => {
        if (ended || stopped) return;
        ended = true;
        current?.unsubscribe();
        retry = setTimeout(() => {
          listen();
          refetchPages();
        }, wait);
        wait = Math.min(wait * 2, RESUBSCRIBE_MAX_MS);
      };
      current = pipe(
        client.subscription(CredentialChangedSubscription, {}, credentialContext),
        onEnd(again),
        subscribe((result) => {
          if (result.error) again();
          else if (result.data) wait = RESUBSCRIBE_FIRST_MS;
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
