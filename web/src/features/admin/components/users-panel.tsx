import { Lock, LockOpen, Plus, UserPlus } from 'lucide-react';
import { useId, useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { EmptyState, ErrorState, LoadingState, RefreshFailed } from '@/components/page-state';
import { Alert } from '@/components/ui/alert';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
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
import { graphql } from '@/gql';
import type { Permission } from '@/gql/graphql';
import { apiFailure, describeFailure } from '@/lib/errors';
import { dateTime } from '@/lib/format';
import { maskedFieldProps } from '@/lib/masked-field';
import { MIN_PASSWORD, passwordLength } from '@/lib/password';
import { useSession } from '@/lib/session';
import { useSecretMutation } from '@/lib/use-secret-mutation';
import {
  CreateUserMutation,
  GrantPermissionMutation,
  LockUserMutation,
  RevokePermissionMutation,
  UnlockUserMutation,
  userContext,
} from '../api/admin';
import { useLastData, useRefetchOnRecovery } from '@/lib/use-last-data';

const UsersQuery = graphql(`
  query AdminUsers {
    users {
      id
      email
      displayName
      role
      permissions
      locked
      createdAt
    }
  }
`);

// What each permission gives, as the API has it (api/src/graphql/mod.rs `credential_for`,
// query.rs `allCredentials`): listing everyone's credentials needs View all; Edit all and
// Delete all act on a credential named by its id, through the API (the dashboard's pages act on
// the person's own credentials only, and All credentials is read-only).
const PERMISSIONS: { value: Permission; label: string; effect: string }[] = [
  {
    value: 'CREDENTIALS_VIEW_ALL',
    label: 'View all',
    effect:
      "see everyone's credentials, never their secrets: the All credentials page, and each credential's history and audit entries",
  },
  {
    value: 'CREDENTIALS_EDIT_ALL',
    label: 'Edit all',
    effect:
      "change (name, labels, secret), set as primary, recheck, revoke and retry the sync of anyone's credential through the API, given its id (listing everyone's needs View all)",
  },
  {
    value: 'CREDENTIALS_DELETE_ALL',
    label: 'Delete all',
    effect:
      "delete anyone's credential through the API, given its id (revoking one needs Edit all, listing everyone's View all)",
  },
];

export function UsersPanel() {
  const session = useSession();
  const [{ data: fresh, fetching, error }, refetch] = useQuery({
    query: UsersQuery,
    requestPolicy: 'cache-and-network',
    context: userContext,
  });
  const data = useLastData(fresh);
  useRefetchOnRecovery(refetch);
  const [creating, setCreating] = useState(false);
  const [locking, setLocking] = useState<{ id: string; name: string } | null>(null);
  // An unlock gives back every API token of an account that may have been compromised: confirmed.
  const [unlocking, setUnlocking] = useState<{ id: string; name: string } | null>(null);
  // A permission change waits for a confirmation that says what it does.
  const [changing, setChanging] = useState<{
    userId: string;
    name: string;
    permission: (typeof PERMISSIONS)[number];
    grant: boolean;
  } | null>(null);
  // Every action on its way, by key: each control waits for its own answer.
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [, unlock] = useMutation(UnlockUserMutation);
  const [, grant] = useMutation(GrantPermissionMutation);
  const [, revoke] = useMutation(RevokePermissionMutation);

  async function run(
    key: string,
    label: string,
    op: () => Promise<{ error?: Parameters<typeof apiFailure>[0] }>,
  ) {
    setBusy((keys) => new Set(keys).add(key));
    const result = await op();
    setBusy((keys) => {
      const rest = new Set(keys);
      rest.delete(key);
      return rest;
    });
    const failure = apiFailure(result.error);
    toast(
      failure
        ? { title: `Could not ${label}`, description: describeFailure(failure), variant: 'destructive' }
        : { title: `Done: ${label}`, variant: 'success' },
    );
  }

  const failure = apiFailure(error);
  return (
    <section className="space-y-4" aria-label="Users">
      <div className="flex justify-end">
        <Button onClick={() => setCreating(true)}>
          <UserPlus aria-hidden="true" /> New user
        </Button>
      </div>
      <RefreshFailed data={data} failure={failure} fetching={fetching} refetch={refetch} />
      {!data ? (
        fetching || !failure ? (
          <LoadingState label="Loading users…" />
        ) : (
          <ErrorState message={failure.message} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        )
      ) : data.users.length === 0 ? (
        <EmptyState title="No users" />
      ) : (
        <Card>
          <Table aria-label="Users">
            <TableHeader>
              <TableRow>
                <TableHead>User</TableHead>
                <TableHead>Role</TableHead>
                <TableHead>Permissions</TableHead>
                <TableHead>Created</TableHead>
                <TableHead>
                  <span className="sr-only">Actions</span>
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {data.users.map((user) => {
                const admin = user.role === 'ADMIN';
                const self = user.id === session.userId;
                return (
                  <TableRow key={user.id} data-testid={`user-${user.id}`}>
                    <TableCell>
                      <div className="font-medium">
                        {user.displayName}
                        {user.locked && (
                          <Badge variant="destructive" className="ml-2">
                            Locked
                          </Badge>
                        )}
                      </div>
                      <div className="text-xs text-muted-foreground">
                        <span className="font-mono">{user.id}</span> · {user.email}
                      </div>
                    </TableCell>
                    <TableCell>
                      {admin ? <Badge>Admin</Badge> : <Badge variant="secondary">Member</Badge>}
                    </TableCell>
                    <TableCell>
                      <fieldset className="flex flex-wrap gap-x-3 gap-y-1" disabled={admin || busy.size > 0}>
                        <legend className="sr-only">Permissions of {user.displayName}</legend>
                        {PERMISSIONS.map((p) => {
                          const held = admin || user.permissions.includes(p.value);
                          return (
                            <label
                              key={p.value}
                              className="flex items-center gap-1.5 whitespace-nowrap text-xs"
                            >
                              <input
                                type="checkbox"
                                className="h-4 w-4"
                                checked={held}
                                onChange={(e) =>
                                  setChanging({
                                    userId: user.id,
                                    name: user.displayName,
                                    permission: p,
                                    grant: e.target.checked,
                                  })
                                }
                              />
                              {p.label}
                            </label>
                          );
                        })}
                      </fieldset>
                    </TableCell>
                    <TableCell className="whitespace-nowrap text-xs">{dateTime(user.createdAt)}</TableCell>
                    <TableCell className="text-right">
                      {user.locked ? (
                        <Button
                          variant="outline"
                          size="sm"
                          disabled={busy.has(`${user.id}:lock`)}
                          onClick={() => setUnlocking({ id: user.id, name: user.displayName })}
                        >
                          <LockOpen aria-hidden="true" /> Unlock
                          <span className="sr-only"> {user.displayName}</span>
                        </Button>
                      ) : (
                        !self && (
                          <Button
                            variant="outline"
                            size="sm"
                            onClick={() => setLocking({ id: user.id, name: user.displayName })}
                          >
                            <Lock aria-hidden="true" /> Lock
                            <span className="sr-only"> {user.displayName}</span>
                          </Button>
                        )
                      )}
                    </TableCell>
                  </TableRow>
                );
              })}
            </TableBody>
          </Table>
        </Card>
      )}
      <Dialog open={creating} onOpenChange={setCreating}>
        {creating && <CreateUserForm onDone={() => setCreating(false)} />}
      </Dialog>
      <Dialog open={changing !== null} onOpenChange={(o) => !o && setChanging(null)}>
        <DialogContent>
          {changing && (
            <>
              <DialogHeader>
                <DialogTitle>
                  {changing.grant ? 'Grant' : 'Take away'} “{changing.permission.label}”
                  {changing.grant ? ' to ' : ' from '}
                  {changing.name}?
                </DialogTitle>
                <DialogDescription>
                  {changing.grant
                    ? `${changing.name} will be able to ${changing.permission.effect}.`
                    : `${changing.name} will no longer be able to ${changing.permission.effect}.`}{' '}
                  The change is recorded in the ledger.
                </DialogDescription>
              </DialogHeader>
              <DialogFooter>
                <Button variant="ghost" onClick={() => setChanging(null)}>
                  Cancel
                </Button>
                <Button
                  variant={changing.grant ? 'default' : 'destructive'}
                  onClick={() => {
                    const c = changing;
                    setChanging(null);
                    void run(
                      `${c.userId}:${c.permission.value}`,
                      `${c.grant ? 'grant' : 'take away'} “${c.permission.label}” for ${c.name}`,
                      () =>
                        (c.grant ? grant : revoke)(
                          { userId: c.userId, permission: c.permission.value },
                          userContext,
                        ),
                    );
                  }}
                >
                  {changing.grant ? 'Grant' : 'Take away'}
                </Button>
              </DialogFooter>
            </>
          )}
        </DialogContent>
      </Dialog>
      <Dialog open={unlocking !== null} onOpenChange={(o) => !o && setUnlocking(null)}>
        <DialogContent>
          {unlocking && (
            <>
              <DialogHeader>
                <DialogTitle>Unlock {unlocking.name}?</DialogTitle>
                <DialogDescription>
                  They can sign in again with their password, and every API token of theirs that was not
                  revoked and has not expired works again at once, whoever holds it now. Only they can revoke
                  their tokens, once signed in.
                </DialogDescription>
              </DialogHeader>
              <DialogFooter>
                <Button variant="ghost" onClick={() => setUnlocking(null)}>
                  Cancel
                </Button>
                <Button
                  onClick={() => {
                    const u = unlocking;
                    setUnlocking(null);
                    void run(`${u.id}:lock`, `unlock ${u.name}`, () => unlock({ userId: u.id }, userContext));
                  }}
                >
                  <LockOpen aria-hidden="true" /> Unlock
                </Button>
              </DialogFooter>
            </>
          )}
        </DialogContent>
      </Dialog>
      <Dialog open={locking !== null} onOpenChange={(o) => !o && setLocking(null)}>
        {locking && <LockUserForm user={locking} onDone={() => setLocking(null)} />}
      </Dialog>
    </section>
  );
}

function CreateUserForm({ onDone }: { onDone: () => void }) {
  const ids = useId();
  const [userId, setUserId] = useState('');
  const [email, setEmail] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [admin, setAdmin] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Not useMutation: its state would keep the initial password sent (the operation's variables)
  // after a refusal, once the administrator had typed another, for as long as the dialog is open.
  const [fetching, create] = useSecretMutation(CreateUserMutation);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!userId.trim() || !email.trim() || !displayName.trim())
      return setError('Fill in the user id, email and name.');
    if (passwordLength(password) < MIN_PASSWORD)
      return setError(`The password needs at least ${MIN_PASSWORD} characters.`);
    setError(null);
    const result = await create(
      {
        input: {
          userId: userId.trim(),
          email: email.trim(),
          displayName: displayName.trim(),
          password,
          admin,
        },
      },
      userContext,
    );
    const failure = apiFailure(result.error);
    if (failure) return setError(describeFailure(failure));
    toast({ title: `${displayName.trim()} can now sign in`, variant: 'success' });
    onDone();
  }

  // Not closed while the user is being created: the answer, a refusal included, is shown here.
  return (
    <DialogContent dismissible={!fetching}>
      <DialogHeader>
        <DialogTitle>New user</DialogTitle>
        <DialogDescription>They sign in with their email or user id and this password.</DialogDescription>
      </DialogHeader>
      <form className="space-y-3" onSubmit={submit} noValidate aria-label="New user">
        <div className="space-y-1.5">
          <Label htmlFor={`${ids}-id`}>User id</Label>
          <Input
            id={`${ids}-id`}
            value={userId}
            autoComplete="off"
            onChange={(e) => setUserId(e.target.value)}
          />
        </div>
        <div className="space-y-1.5">
          <Label htmlFor={`${ids}-email`}>Email</Label>
          <Input
            id={`${ids}-email`}
            type="email"
            value={email}
            autoComplete="off"
            onChange={(e) => setEmail(e.target.value)}
          />
        </div>
        <div className="space-y-1.5">
          <Label htmlFor={`${ids}-name`}>Name</Label>
          <Input
            id={`${ids}-name`}
            value={displayName}
            autoComplete="off"
            onChange={(e) => setDisplayName(e.target.value)}
          />
        </div>
        <div className="space-y-1.5">
          <Label htmlFor={`${ids}-password`}>Initial password</Label>
          {/* Someone else's password: in a password field the administrator's browser offers to
              save it as a login for this site. */}
          <Input
            id={`${ids}-password`}
            type="text"
            {...maskedFieldProps}
            value={password}
            aria-describedby={`${ids}-password-rule`}
            onChange={(e) => setPassword(e.target.value)}
          />
          <p id={`${ids}-password-rule`} className="text-xs text-muted-foreground">
            At least 12 characters. They can change it after signing in.
          </p>
        </div>
        <label className="flex items-center gap-2 text-sm">
          <input
            type="checkbox"
            className="h-4 w-4"
            checked={admin}
            onChange={(e) => setAdmin(e.target.checked)}
          />
          Administrator
        </label>
        {error && (
          <Alert variant="destructive" role="alert">
            {error}
          </Alert>
        )}
        <DialogFooter>
          <Button variant="ghost" onClick={onDone} disabled={fetching}>
            Cancel
          </Button>
          <Button type="submit" disabled={fetching}>
            {fetching ? <Spinner /> : <Plus aria-hidden="true" />}
            Create user
          </Button>
        </DialogFooter>
      </form>
    </DialogContent>
  );
}

function LockUserForm({ user, onDone }: { user: { id: string; name: string }; onDone: () => void }) {
  const id = useId();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [{ fetching }, lock] = useMutation(LockUserMutation);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const result = await lock({ userId: user.id, reason: reason.trim() || null }, userContext);
    const failure = apiFailure(result.error);
    if (failure) return setError(describeFailure(failure));
    toast({ title: `${user.name} is locked out`, variant: 'success' });
    onDone();
  }

  // Not closed while the lock is on its way: the answer, a refusal included, is shown here.
  return (
    <DialogContent dismissible={!fetching}>
      <DialogHeader>
        <DialogTitle>Lock {user.name}?</DialogTitle>
        {/* docs/security.md: a lock is about the person, not their credentials. The grants are
            the person's own to withdraw (withdrawMcpAccess), which a locked person cannot. */}
        <DialogDescription asChild>
          <div className="space-y-2">
            <p>They cannot sign in, their sessions end and their API tokens are refused.</p>
            <p className="text-foreground">
              Their credentials are not locked: MCP servers that hold copies of them, or resolve them through
              a grant, go on using them. To stop that, revoke or delete their credentials through the API (
              <code>revokeCredential</code>, <code>deleteCredential</code>), or narrow or remove the MCP
              servers (<code>changeMcpServer</code>, <code>removeMcpServer</code>, or{' '}
              <code>credledger mcp change</code>).
            </p>
          </div>
        </DialogDescription>
      </DialogHeader>
      <form className="space-y-3" onSubmit={submit} noValidate>
        <div className="space-y-1.5">
          <Label htmlFor={id}>
            Reason <span className="font-normal text-muted-foreground">(optional)</span>
          </Label>
          <Input id={id} value={reason} onChange={(e) => setReason(e.target.value)} />
        </div>
        {error && (
          <Alert variant="destructive" role="alert">
            {error}
          </Alert>
        )}
        <DialogFooter>
          <Button variant="ghost" onClick={onDone} disabled={fetching}>
            Cancel
          </Button>
          <Button type="submit" variant="destructive" disabled={fetching}>
            {fetching ? <Spinner /> : <Lock aria-hidden="true" />}
            Lock user
          </Button>
        </DialogFooter>
      </form>
    </DialogContent>
  );
}
