import { useId, useState, type FormEvent } from 'react';
import { Alert } from '@/components/ui/alert';
import { Button } from '@/components/ui/button';
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from '@/components/ui/card';
import { Input } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import { Spinner } from '@/components/ui/spinner';
import { toast } from '@/components/ui/use-toast';
import { apiFailure, describeFailure } from '@/lib/errors';
import { MIN_PASSWORD, passwordLength } from '@/lib/password';
import { useSecretMutation } from '@/lib/use-secret-mutation';
import { ChangePasswordMutation } from '../api/account';

export function ChangePasswordCard() {
  const ids = useId();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  // Not useMutation: its state would keep both passwords (the operation's variables) for as long
  // as the page is open.
  const [fetching, change] = useSecretMutation(ChangePasswordMutation);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!current) return setError('Enter your current password.');
    if (passwordLength(next) < MIN_PASSWORD)
      return setError(`The new password needs at least ${MIN_PASSWORD} characters.`);
    if (next !== confirm) return setError('The two new passwords differ.');
    setError(null);
    const result = await change({ currentPassword: current, newPassword: next });
    const failure = apiFailure(result.error);
    setCurrent('');
    if (failure) {
      setError(
        failure.code === 'UNAUTHENTICATED' || failure.code === 'INVALID_CREDENTIAL'
          ? 'The current password is wrong.'
          : describeFailure(failure),
      );
      return;
    }
    setNext('');
    setConfirm('');
    toast({ title: 'Password changed', description: 'Your other sessions have ended.', variant: 'success' });
  }

  return (
    <Card>
      <CardHeader>
        <CardTitle>Password</CardTitle>
        <CardDescription>Changing it ends your other sessions.</CardDescription>
      </CardHeader>
      <CardContent>
        <form className="max-w-sm space-y-3" onSubmit={submit} noValidate aria-label="Change password">
          <input type="text" name="username" autoComplete="username" hidden readOnly />
          <div className="space-y-1.5">
            <Label htmlFor={`${ids}-current`}>Current password</Label>
            <Input
              id={`${ids}-current`}
              type="password"
              autoComplete="current-password"
              value={current}
              onChange={(e) => setCurrent(e.target.value)}
            />
          </div>
          <div className="space-y-1.5">
            <Label htmlFor={`${ids}-new`}>New password</Label>
            <Input
              id={`${ids}-new`}
              type="password"
              autoComplete="new-password"
              minLength={MIN_PASSWORD}
              aria-describedby={`${ids}-new-hint`}
              value={next}
              onChange={(e) => setNext(e.target.value)}
            />
            <p id={`${ids}-new-hint`} className="text-xs text-muted-foreground">
              At least {MIN_PASSWORD} characters.
            </p>
          </div>
          <div className="space-y-1.5">
            <Label htmlFor={`${ids}-confirm`}>New password again</Label>
            <Input
              id={`${ids}-confirm`}
              type="password"
              autoComplete="new-password"
              value={confirm}
              onChange={(e) => setConfirm(e.target.value)}
            />
          </div>
          {error && (
            <Alert variant="destructive" role="alert">
              {error}
            </Alert>
          )}
          <Button type="submit" disabled={fetching}>
            {fetching && <Spinner />}
            Change password
          </Button>
        </form>
      </CardContent>
    </Card>
  );
}
