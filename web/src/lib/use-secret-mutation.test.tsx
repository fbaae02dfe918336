import { act, render, screen, waitFor } from '@testing-library/react';
import { gql, Provider } from 'urql';
import { describe, expect, it } from 'vitest';
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
});
