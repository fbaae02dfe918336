import { Check, Copy, KeyRound, Plus, Trash2 } from 'lucide-react';
import { useId, useState, type FormEvent } from 'react';
import { useMutation } from 'urql';
import { EmptyState } from '@/components/page-state';
import { Alert } from '@/components/ui/alert';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from '@/components/ui/card';
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
} from '@/components/ui/dialog';
import { Input } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import { Spinner } from '@/components/ui/spinner';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { toast } from '@/components/ui/use-toast';
import { getFragmentData, graphql, type FragmentType } from '@/gql';
import type { Scope } from '@/gql/graphql';
import { apiFailure, describeFailure } from '@/lib/errors';
import { dateTime, localDay } from '@/lib/format';
import { useSecretMutation } from '@/lib/use-secret-mutation';
import { CreateApiTokenMutation, RevokeApiTokenMutation, tokenContext } from '../api/account';

export const ApiTokensCardFragment = graphql(`
  fragment ApiTokensCard_Me on Me {
    apiTokens {
      id
      name
      scopes
      expiresAt
      revoked
      createdAt
    }
  }
`);

const SCOPES: { value: Scope; label: string; hint: string }[] = [
  { value: 'CREDENTIALS_READ', label: 'credentials:read', hint: 'Read credential metadata.' },
  {
    value: 'CREDENTIALS_RESOLVE',
    label: 'credentials:resolve',
    hint: 'Resolve secrets at call time (MCP servers).',
  },
  { value: 'LEDGER_READ', label: 'ledger:read', hint: 'Read and export the ledger.' },
];

export function ApiTokensCard({ me }: { me: FragmentType<typeof ApiTokensCardFragment> }) {
  const { apiTokens } = getFragmentData(ApiTokensCardFragment, me);
  const [creating, setCreating] = useState(false);
  // Every token whose revocation is on its way: each button waits for its own answer.
  const [revoking, setRevoking] = useState<ReadonlySet<string>>(new Set());
  const [, revoke] = useMutation(RevokeApiTokenMutation);

  async function revokeToken(id: string, name: string) {
    setRevoking((ids) => new Set(ids).add(id));
    const result = await revoke({ id }, tokenContext);
    setRevoking((ids) => {
      const rest = new Set(ids);
      rest.delete(id);
      return rest;
    });
    const failure = apiFailure(result.error);
    toast(
      failure
        ? { title: `Could not revoke ${name}`, description: describeFailure(failure), variant: 'destructive' }
        : { title: `${name} revoked`, variant: 'success' },
    );
  }

  return (
    <Card>
      <CardHeader className="flex flex-col gap-3 sm:flex-row sm:items-start sm:justify-between sm:space-y-0">
        <div className="space-y-1.5">
          <CardTitle>API tokens</CardTitle>
          <CardDescription>
            For scripts and MCP servers. A token is shown once, when it is created.
          </CardDescription>
        </div>
        <Button onClick={() => setCreating(true)}>
          <Plus aria-hidden="true" /> New token
        </Button>
      </CardHeader>
      <CardContent>
        {apiTokens.length === 0 ? (
          <EmptyState title="No API tokens" description="Create one for a script or an MCP server." />
        ) : (
          <Table aria-label="API tokens">
            <TableHeader>
              <TableRow>
                <TableHead>Name</TableHead>
                <TableHead>Scopes</TableHead>
                <TableHead>Created</TableHead>
                <TableHead>Expires</TableHead>
                <TableHead>
                  <span className="sr-only">Actions</span>
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {apiTokens.map((t) => (
                <TableRow key={t.id}>
                  <TableCell className="font-medium">
                    {t.name}
                    {t.revoked && (
                      <Badge variant="muted" className="ml-2">
                        Revoked
                      </Badge>
                    )}
                  </TableCell>
                  <TableCell>
                    <div className="flex flex-wrap gap-1">
                      {t.scopes.map((s) => (
                        <Badge key={s} variant="outline" className="font-mono font-normal">
                          {SCOPES.find((x) => x.value === s)?.label ?? s}
                        </Badge>
                      ))}
                    </div>
                  </TableCell>
                  <TableCell className="whitespace-nowrap">{dateTime(t.createdAt)}</TableCell>
                  <TableCell className="whitespace-nowrap">{dateTime(t.expiresAt, 'Never')}</TableCell>
                  <TableCell className="text-right">
                    {!t.revoked && (
                      <Button
                        variant="ghost"
                        size="sm"
                        className="text-destructive"
                        disabled={revoking.has(t.id)}
                        onClick={() => revokeToken(t.id, t.name)}
                      >
                        {revoking.has(t.id) ? <Spinner /> : <Trash2 aria-hidden="true" />}
                        Revoke<span className="sr-only"> {t.name}</span>
                      </Button>
                    )}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>
      <Dialog open={creating} onOpenChange={setCreating}>
        {creating && <CreateTokenFlow onDone={() => setCreating(false)} />}
      </Dialog>
    </Card>
  );
}

function CreateTokenFlow({ onDone }: { onDone: () => void }) {
  const ids = useId();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Set<Scope>>(new Set(['CREDENTIALS_READ']));
  const [expires, setExpires] = useState('');
  const [error, setError] = useState<string | null>(null);
  // Not useMutation: its state would keep the answer, the new token in it, beside this one.
  const [busy, create] = useSecretMutation(CreateApiTokenMutation);
  // The new token lives only here, until the dialog closes.
  const [token, setToken] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!name.trim()) return setError('Give the token a name.');
    if (scopes.size === 0) return setError('Choose at least one scope.');
    setError(null);
    const expiresAt = expires ? new Date(`${expires}T23:59:59`).toISOString() : null;
    const result = await create({ name: name.trim(), scopes: [...scopes], expiresAt }, tokenContext);
    const failure = apiFailure(result.error);
    if (failure || !result.data) {
      setError(failure ? describeFailure(failure) : 'The token was not created.');
      return;
    }
    setToken(result.data.createApiToken.token);
  }

  if (token) {
    return (
      <DialogContent>
        <DialogHeader>
          <DialogTitle>Your new token</DialogTitle>
          <DialogDescription>Copy it now: it is not shown again.</DialogDescription>
        </DialogHeader>
        <div className="flex items-center gap-2">
          <code
            className="min-w-0 flex-1 break-all rounded bg-muted px-2 py-1.5 text-sm"
            data-testid="new-token"
          >
            {token}
          </code>
          <Button
            variant="outline"
            size="icon"
            aria-label="Copy the token"
            onClick={async () => {
              try {
                await navigator.clipboard.writeText(token);
                setCopied(true);
              } catch {
                setCopied(false);
              }
            }}
          >
            {copied ? <Check aria-hidden="true" /> : <Copy aria-hidden="true" />}
          </Button>
        </div>
        <p className="text-xs text-muted-foreground" aria-live="polite">
          {copied ? 'Copied.' : ''}
        </p>
        <DialogFooter>
          <Button onClick={onDone}>Done</Button>
        </DialogFooter>
      </DialogContent>
    );
  }

  // Not closed while the token is on its way: it is shown once, here, or never.
  return (
    <DialogContent dismissible={!busy}>
      <DialogHeader>
        <DialogTitle>New API token</DialogTitle>
        <DialogDescription>Give it only the scopes it needs.</DialogDescription>
      </DialogHeader>
      <form className="space-y-4" onSubmit={submit} noValidate aria-label="New API token">
        <div className="space-y-1.5">
          <Label htmlFor={`${ids}-name`}>Name</Label>
          <Input
            id={`${ids}-name`}
            value={name}
            maxLength={100}
            autoComplete="off"
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <fieldset className="space-y-2">
          <legend className="text-sm font-medium">Scopes</legend>
          {SCOPES.map((s) => (
            <label key={s.value} className="flex items-start gap-2 text-sm">
              <input
                type="checkbox"
                className="mt-0.5 h-4 w-4"
                checked={scopes.has(s.value)}
                onChange={(e) =>
                  setScopes((cur) => {
                    const next = new Set(cur);
                    if (e.target.checked) next.add(s.value);
                    else next.delete(s.value);
                    return next;
                  })
                }
              />
              <span>
                <span className="font-mono">{s.label}</span>
                <span className="block text-xs text-muted-foreground">{s.hint}</span>
              </span>
            </label>
          ))}
        </fieldset>
        <div className="space-y-1.5">
          <Label htmlFor={`${ids}-expires`}>
            Expires <span className="font-normal text-muted-foreground">(optional)</span>
          </Label>
          <Input
            id={`${ids}-expires`}
            type="date"
            value={expires}
            min={localDay()}
            onChange={(e) => setExpires(e.target.value)}
          />
        </div>
        {error && (
          <Alert variant="destructive" role="alert">
            {error}
          </Alert>
        )}
        <DialogFooter>
          <Button variant="ghost" onClick={onDone} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy}>
            {busy ? <Spinner /> : <KeyRound aria-hidden="true" />}
            Create token
          </Button>
        </DialogFooter>
      </form>
    </DialogContent>
  );
}
