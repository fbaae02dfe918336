import { KeyRound } from 'lucide-react';
import { useState, type FormEvent } from 'react';
import { Alert } from '@/components/ui/alert';
import { Button } from '@/components/ui/button';
import { Card, CardContent, CardDescription, CardHeader } from '@/components/ui/card';
import { Input } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import { Spinner } from '@/components/ui/spinner';
import { apiFailure, describeFailure } from '@/lib/errors';
import { useSecretMutation } from '@/lib/use-secret-mutation';
import { LoginMutation } from '../api/session';
import { useDocumentTitle } from '@/lib/use-document-title';

export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  useDocumentTitle('Sign in');
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  // Not useMutation: its state would keep a refused password (the operation's variables).
  const [fetching, signIn] = useSecretMutation(LoginMutation);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!login.trim() || !password) {
      setError('Enter your email or user id and your password.');
      return;
    }
    setError(null);
    const result = await signIn({ login: login.trim(), password });
    const failure = apiFailure(result.error);
    if (failure) {
      setPassword('');
      // The server does not say which part was wrong (nor whether the account is locked).
      setError(
        ['UNAUTHENTICATED', 'INVALID_CREDENTIAL', 'VALIDATION', 'FORBIDDEN'].includes(failure.code)
          ? 'The email, user id or password is wrong, or the account is locked.'
          : describeFailure(failure, 'sign-in attempts'),
      );
      return;
    }
    onSignedIn();
  }

  return (
    <main className="flex min-h-screen items-center justify-center px-4 py-10">
      <Card className="w-full max-w-sm">
        <CardHeader>
          <div className="mb-2 flex h-10 w-10 items-center justify-center rounded-md bg-primary text-primary-foreground">
            <KeyRound className="h-5 w-5" aria-hidden="true" />
          </div>
          <h1 className="text-xl font-semibold tracking-tight">Sign in to credledger</h1>
          <CardDescription>Your credentials for every connected service, in one ledger.</CardDescription>
        </CardHeader>
        <CardContent>
          <form className="space-y-4" onSubmit={submit} noValidate>
            <div className="space-y-2">
              <Label htmlFor="login">Email or user id</Label>
              <Input
                id="login"
                name="username"
                autoComplete="username"
                autoFocus
                value={login}
                onChange={(e) => setLogin(e.target.value)}
              />
            </div>
            <div className="space-y-2">
              <Label htmlFor="password">Password</Label>
              <Input
                id="password"
                name="password"
                type="password"
                autoComplete="current-password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </div>
            {error && (
              <Alert variant="destructive" role="alert">
                {error}
              </Alert>
            )}
            <Button type="submit" className="w-full" disabled={fetching}>
              {fetching && <Spinner />}
              Sign in
            </Button>
          </form>
        </CardContent>
      </Card>
    </main>
  );
}
