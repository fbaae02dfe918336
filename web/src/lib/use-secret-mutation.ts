import { useCallback, useState } from 'react';
import { useClient, type AnyVariables, type CombinedError, type DocumentInput } from 'urql';

/** What a secret mutation answered: its data or its error, without the operation that asked. */
export interface SecretMutationAnswer<Data> {
  data?: Data;
  error?: CombinedError;
}

/**
 * Sends a mutation whose variables are secret (a password) and keeps nothing of them once it is
 * answered. urql's `useMutation` keeps the last operation, variables included, in its state for
 * as long as the component lives; the client itself keeps no mutation after its answer. This
 * remembers only whether one is on its way, and answers without the result's `operation` (which
 * holds the variables too).
 */
export function useSecretMutation<Data, Variables extends AnyVariables>(
  document: DocumentInput<Data, Variables>,
): [sending: boolean, send: (variables: Variables) => Promise<SecretMutationAnswer<Data>>] {
  const client = useClient();
  const [sending, setSending] = useState(false);
  const send = useCallback(
    async (variables: Variables) => {
      setSending(true);
      try {
        const { data, error } = await client.mutation(document, variables).toPromise();
        return { data, error };
      } finally {
        setSending(false);
      }
    },
    [client, document],
  );
  return [sending, send];
}
