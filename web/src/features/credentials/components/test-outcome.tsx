import { AlertTriangle, CheckCircle2, XCircle } from 'lucide-react';
import { Alert } from '@/components/ui/alert';
import { describeFailure } from '@/lib/errors';
import { accountLabel } from '@/lib/format';
import type { TestState } from '../hooks/use-credential-test';

/** What the last "Test credential" found, or that the values changed since. */
export function TestOutcome({ state }: { state: TestState }) {
  if (state.phase === 'idle' || state.phase === 'testing') return null;
  if (state.phase === 'changed') {
    return (
      <Alert variant="warning">
        <AlertTriangle aria-hidden="true" />
        <span>The values changed since the last test. Test the credential again before saving it.</span>
      </Alert>
    );
  }
  if (state.phase === 'failed') {
    return (
      <Alert variant="destructive" role="alert">
        <XCircle aria-hidden="true" />
        <span>{describeFailure(state.failure, 'live checks')}</span>
      </Alert>
    );
  }
  const { outcome } = state;
  const remaining = (
    <span className="block text-xs text-muted-foreground">
      {outcome.rateLimitRemaining} live {outcome.rateLimitRemaining === 1 ? 'check' : 'checks'} left this
      minute.
    </span>
  );
  if (outcome.result === 'VALID') {
    const who = outcome.account ? accountLabel(outcome.account) : null;
    return (
      <Alert variant="success">
        <CheckCircle2 aria-hidden="true" />
        <span>
          <span className="font-medium">The credential is valid.</span>
          {who && <span className="block">Account found: {who}</span>}
          {remaining}
        </span>
      </Alert>
    );
  }
  if (outcome.result === 'INVALID') {
    return (
      <Alert variant="destructive" role="alert">
        <XCircle aria-hidden="true" />
        <span>
          <span className="font-medium">The provider refused this credential.</span>
          {outcome.message && <span className="block">{outcome.message}</span>}
          {remaining}
        </span>
      </Alert>
    );
  }
  return (
    <Alert variant="warning" role="alert">
      <AlertTriangle aria-hidden="true" />
      <span>
        <span className="font-medium">The provider could not be asked.</span>
        {outcome.message && <span className="block">{outcome.message}</span>}
        <span className="block">This says nothing about the credential; try again later.</span>
        {remaining}
      </span>
    </Alert>
  );
}
