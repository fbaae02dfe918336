import { act, render, screen, waitFor } from '@testing-library/react';
import { Client, gql, makeResult, Provider, type Exchange, type OperationContext } from 'urql';
import { describe, expect, it } from 'vitest';
import { filter, map, pipe } from 'wonka';
import { deferred, mockClient, type Answer } from '@/test/mock-client';
import { retainedIn } from '@/test/retained';
import { useSecretMutation, type SecretMutationAnswer } from './use-secret-mutation';

const LoginMutation = gql<unknown, { login: string; password: string }>`
  mutation Login($login: String!, $password: String!) {
    login(login: $login, password: $password) {
      user {
        id
      }
    }
  }
`;

describe('useSecretMutation', () => {
  it('remembers only whether it is sending, and answers without the variables', async () => {
    const answer = deferred<Answer>();
    const { client, calls } = mockClient({ Login: () => answer.promise });
    let send!: ReturnType<typeof useSecretMutation<unknown, { login: string; password: string }>>[1];
    function Probe() {
      const [sending, run] = useSecretMutation(LoginMutation);
      send = run;
      return <p>{sending ? 'sending' : 'idle'}</p>;
    }
    const { container } = render(
      <Provider value={client}>
        <Probe />
      </Provider>,
    );
    let result!: Promise<SecretMutationAnswer<unknown>>;
    act(() => {
      result = send({ login: 'ada', password: 'correct horse battery' });
    });
    expect(await screen.findByText('sending')).toBeInTheDocument();
    answer.resolve({ errors: [{ message: 'no', extensions: { code: 'UNAUTHENTICATED' } }] });
    const answered = await result;
    await waitFor(() => expect(screen.getByText('idle')).toBeInTheDocument());
    expect(calls.map((c) => c.variables)).toEqual([{ login: 'ada', password: 'correct horse battery' }]);
    expect(Object.keys(answered).sort()).toEqual(['data', 'error']);
    expect(answered.error?.graphQLErrors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(retainedIn(container, 'correct horse battery')).toEqual([]);
  });

  it('sends with the context it is given, as useMutation does', async () => {
    const contexts: OperationContext[] = [];
    const answer: Exchange = () => (ops$) =>
      pipe(
        ops$,
        filter((op) => op.kind === 'mutation'),
        map((op) => {
          contexts.push(op.context);
          return makeResult(op, { data: { login: null } });
        }),
      );
    const client = new Client({ url: '/graphql', exchanges: [answer] });
    let send!: ReturnType<typeof useSecretMutation<unknown, { login: string; password: string }>>[1];
    function Probe() {
      send = useSecretMutation(LoginMutation)[1];
      return null;
    }
    render(
      <Provider value={client}>
        <Probe />
      </Provider>,
    );
    await act(() => send({ login: 'ada', password: 'pw' }, { additionalTypenames: ['Credential'] }));
    expect(contexts.map((c) => c.additionalTypenames)).toEqual([['Credential']]);
  });
});
