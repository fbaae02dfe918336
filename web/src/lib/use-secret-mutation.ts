import { useCallback, useState } from 'react';
import {
  useClient,
  type AnyVariables,
  type CombinedError,
  type DocumentInput,
  type OperationContext,
} from 'urql';

/** What a secret mutation answered: its data or its error, without the operation that asked. */
export interface SecretMutationAnswer<Data> {
  data?: Data;
  error?: CombinedError;
}

/**
 * Sends a mutation whose variables are secret (a password, a credential's secret fields) or whose
 * answer is (a new API token, a revealed secret), and keeps nothing of either once it is answered.
 * urql's `useMutation` keeps the last operation, variables included, and the last answer's `data`
 * in its state for as long as the component lives; the client itself keeps no mutation after its
 * answer. This remembers only whether one is on its way, and answers without the result's
 * `operation` (which holds the variables too): a secret in the answer is kept only where the
 * caller puts it, in the one state that shows it. `context` is the operation's, as for
 * `useMutation` (e.g. `additionalTypenames`).
 */
export function useSecretMutation<Data, Variables extends AnyVariables>(
  document: DocumentInput<Data, Variables>,
): [
  sending: boolean,
  send: (variables: Variables, context?: Partial<OperationContext>) => Promise<SecretMutationAnswer<Data>>,
] {
  const client = useClient();
  const [sending, setSending] = useState(false);
  const send = useCallback(
    async (variables: Variables, context?: Partial<OperationContext>) => {
      setSending(true);
      try {
        const { data, error } = await client.mutation(document, variables, context).toPromise();
        return { data, error };
      } finally {
        setSending(false);
      }
    },
    [client, document],
  );
  return [sending, send];
}
