import { useSubscription } from 'urql';
import { graphql } from '@/gql';
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

/**
 * Keeps every credential view current: each `credentialChanged` event invalidates the queries
 * tagged `Credential`, which the document cache then refetches in the background.
 */
export function useCredentialChanges() {
  useSubscription({ query: CredentialChangedSubscription, context: credentialContext });
}
