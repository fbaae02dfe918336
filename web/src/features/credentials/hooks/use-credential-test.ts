import { useCallback, useRef, useState } from 'react';
import type { TestCredentialMutation as TestCredentialResult } from '@/gql/graphql';
import { apiFailure, type ApiFailure } from '@/lib/errors';
import { useSecretMutation } from '@/lib/use-secret-mutation';
import { TestCredentialMutation } from '../api/mutations';

export type TestOutcome = TestCredentialResult['testCredential'];

/** The last test of the values shown; `changed`: they were changed after a test, so it is gone. */
export type TestState =
  | { phase: 'idle' }
  | { phase: 'changed' }
  | { phase: 'testing' }
  | { phase: 'done'; outcome: TestOutcome }
  | { phase: 'failed'; failure: ApiFailure };

/** The non-empty fields, trimmed of nothing: what is tested is exactly what is sent. */
export function filledFields(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ''));
}

/**
 * Runs `testCredential` on the values the form shows; `passed` is true only when that test came
 * back VALID, `refused` when it judged them not to be (INVALID, or values the server refused). The form calls `changed()` whenever a value changes and `reset()` when it drops its
 * values: the test is then forgotten (an answer still on its way is ignored), so a changed value
 * is tested again before it is used. Nothing here holds the values tested, which may have been
 * typed over (a secret sent, refused and replaced); the mutation keeps nothing of them either
 * (`useSecretMutation`; its "sending" is `phase: 'testing'` here).
 */
export function useCredentialTest() {
  const [, send] = useSecretMutation(TestCredentialMutation);
  const [state, setState] = useState<TestState>({ phase: 'idle' });
  const latest = useRef(0);

  const run = useCallback(
    async (service: string, values: Record<string, string>) => {
      const ticket = ++latest.current;
      setState({ phase: 'testing' });
      const result = await send({ service, fields: filledFields(values) });
      if (ticket !== latest.current) return;
      const failure = apiFailure(result.error);
      if (failure || !result.data) {
        setState({
          phase: 'failed',
          failure: failure ?? { code: 'INTERNAL', message: 'The test gave no answer.' },
        });
        return;
      }
      setState({ phase: 'done', outcome: result.data.testCredential });
    },
    [send],
  );

  const reset = useCallback(() => {
    latest.current++;
    setState({ phase: 'idle' });
  }, []);

  const changed = useCallback(() => {
    latest.current++;
    setState((s) => (s.phase === 'idle' ? s : { phase: 'changed' }));
  }, []);

  const passed = state.phase === 'done' && state.outcome.result === 'VALID';
  // The last test judged these very values and refused them: testing them again says the same.
  // A test that could not be made (unreachable, rate limited, unavailable, the provider not
  // asked) said nothing about them.
  const refused =
    (state.phase === 'done' && state.outcome.result === 'INVALID') ||
    (state.phase === 'failed' && state.failure.code === 'VALIDATION');

  return { state, run, reset, changed, passed, refused };
}
