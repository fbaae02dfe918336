import { useCallback, useRef, useState } from 'react';
import type { TestCredentialMutation as TestCredentialResult } from '@/gql/graphql';
import { apiFailure, type ApiFailure } from '@/lib/errors';
import { useSecretMutation } from '@/lib/use-secret-mutation';
import { TestCredentialMutation } from '../api/mutations';

export type TestOutcome = TestCredentialResult['testCredential'];

export type TestState =
  | { phase: 'idle' }
  | { phase: 'testing'; key: string }
  | { phase: 'done'; key: string; outcome: TestOutcome }
  | { phase: 'failed'; key: string; failure: ApiFailure };

/** The non-empty fields, trimmed of nothing: what is tested is exactly what is sent. */
export function filledFields(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ''));
}

/** Identifies one service and one set of values, so a test result can be matched to them. */
export function valuesKey(service: string, values: Record<string, string>): string {
  const entries = Object.entries(filledFields(values)).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify([service, entries]);
}

/**
 * Runs `testCredential` and remembers which values it tested: `passedFor(key)` is true only when
 * the last test of exactly these values came back VALID. The key holds the values tested, as the
 * form does, until the form is closed, another service is chosen or other values are tested; the
 * mutation keeps nothing of them (`useSecretMutation`; its "sending" is `phase: 'testing'` here).
 */
export function useCredentialTest() {
  const [, send] = useSecretMutation(TestCredentialMutation);
  const [state, setState] = useState<TestState>({ phase: 'idle' });
  const latest = useRef(0);

  const run = useCallback(
    async (service: string, values: Record<string, string>) => {
      const key = valuesKey(service, values);
      const ticket = ++latest.current;
      setState({ phase: 'testing', key });
      const result = await send({ service, fields: filledFields(values) });
      if (ticket !== latest.current) return;
      const failure = apiFailure(result.error);
      if (failure || !result.data) {
        setState({
          phase: 'failed',
          key,
          failure: failure ?? { code: 'INTERNAL', message: 'The test gave no answer.' },
        });
        return;
      }
      setState({ phase: 'done', key, outcome: result.data.testCredential });
    },
    [send],
  );

  const reset = useCallback(() => {
    latest.current++;
    setState({ phase: 'idle' });
  }, []);

  const passedFor = useCallback(
    (key: string) => state.phase === 'done' && state.key === key && state.outcome.result === 'VALID',
    [state],
  );

  return { state, run, reset, passedFor };
}
