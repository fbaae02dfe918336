import {
  Ban,
  Eye,
  History,
  KeyRound,
  LogIn,
  MoreHorizontal,
  Pencil,
  RefreshCw,
  Star,
  Trash2,
} from 'lucide-react';
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from '@/components/ui/dropdown-menu';
import { useRef, useState, type ReactNode } from 'react';
import { useMutation } from 'urql';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Spinner } from '@/components/ui/spinner';
import { toast } from '@/components/ui/use-toast';
import { getFragmentData, graphql, type FragmentType } from '@/gql';
import type { CredentialStatus } from '@/gql/graphql';
import { apiFailure, describeFailure } from '@/lib/errors';
import { accountLabel, dateTime, timeAgo } from '@/lib/format';
import { useSession } from '@/lib/session';
import { attentionReasons } from '../api/attention';
import { credentialContext } from '../api/context';
import {
  RetrySyncMutation,
  RevalidateCredentialMutation,
  SetPrimaryCredentialMutation,
} from '../api/mutations';
import { scopesLabel, useStartOAuth } from '../api/oauth';
import { Alert } from '@/components/ui/alert';
import { CredentialHistoryDialog } from './credential-history-dialog';
import { DeleteCredentialDialog } from './delete-credential-dialog';
import { EditCredentialDialog } from './edit-credential-dialog';
import { RevealCredentialDialog } from './reveal-credential-dialog';
import { RevokeCredentialDialog } from './revoke-credential-dialog';
import type { FieldDef } from './secret-fields';
import { StatusBadge, StatusIcon, syncLabel } from '@/components/credential-status';

export const CredentialCardFragment = graphql(`
  fragment CredentialCard_Credential on Credential {
    id
    owner
    service
    name
    status
    isPrimary
    account {
      id
      displayName
      email
    }
    metadata
    lastValidatedAt
    validationError
    lastUsedAt
    useCount
    tokenExpiresAt
    scopes
    syncStatus
    lastSyncedAt
    syncError
  }
`);

export type CredentialAction =
  'setPrimary' | 'revalidate' | 'edit' | 'reveal' | 'history' | 'revoke' | 'delete';

/** Which actions a credential offers in its state, to its owner or to someone else. */
export function credentialActions(
  status: CredentialStatus,
  isPrimary: boolean,
  isOwner: boolean,
): CredentialAction[] {
  const actions: CredentialAction[] = [];
  if (status === 'ACTIVE' && !isPrimary) actions.push('setPrimary');
  if (status !== 'REVOKED') actions.push('revalidate', 'edit');
  if (isOwner && status !== 'REVOKED') actions.push('reveal');
  actions.push('history');
  if (status !== 'REVOKED') actions.push('revoke');
  actions.push('delete');
  return actions;
}

type OpenDialog = 'edit' | 'reveal' | 'history' | 'revoke' | 'delete' | null;

export function CredentialCard({
  credential: ref,
  serviceName,
  fields,
  oauthProvider = null,
  offered = true,
}: {
  credential: FragmentType<typeof CredentialCardFragment>;
  serviceName: string;
  fields: FieldDef[];
  /** The provider whose consent page connects this service ("Google"), when it uses OAuth. */
  oauthProvider?: string | null;
  /** False when its service is disabled in or gone from the catalog: the server still revokes,
   *  deletes, reveals and renames it, but refuses to check it or take a new secret for it. */
  offered?: boolean;
}) {
  const credential = getFragmentData(CredentialCardFragment, ref);
  const session = useSession();
  const [dialog, setDialog] = useState<OpenDialog>(null);
  const [{ fetching: settingPrimary }, setPrimary] = useMutation(SetPrimaryCredentialMutation);
  const [{ fetching: revalidating }, revalidate] = useMutation(RevalidateCredentialMutation);
  const [{ fetching: retrying }, retrySync] = useMutation(RetrySyncMutation);

  const isOwner = credential.owner === session.userId;
  const actions = new Set(credentialActions(credential.status, credential.isPrimary, isOwner));
  if (!offered) actions.delete('revalidate');
  const account = credential.account;
  const accountText = account ? accountLabel(account) : null;
  const headingId = `credential-${credential.id}`;
  const reasons = attentionReasons({ ...credential, renews: !!oauthProvider });
  const oauth = useStartOAuth();
  const canReconnect =
    offered &&
    !!oauthProvider &&
    isOwner &&
    (credential.status === 'EXPIRED' || credential.status === 'INVALID');
  // A key (not an OAuth connection) that expired is brought back by a new secret, checked first.
  const canReplaceExpired =
    offered && !oauthProvider && credential.status === 'EXPIRED' && actions.has('edit');

  // A dialog gives focus back to what had it when it opened: the menu's button, not its item
  // (gone once the menu closes).
  const menuTrigger = useRef<HTMLButtonElement>(null);
  function openFromMenu(which: NonNullable<OpenDialog>) {
    menuTrigger.current?.focus();
    setDialog(which);
  }

  async function makePrimary() {
    const result = await setPrimary({ id: credential.id }, credentialContext);
    const failure = apiFailure(result.error);
    toast(
      failure
        ? {
            title: 'Could not change the primary account',
            description: describeFailure(failure),
            variant: 'destructive',
          }
        : { title: `${credential.name} is now the primary ${serviceName} account`, variant: 'success' },
    );
  }

  async function retry() {
    const result = await retrySync({ id: credential.id }, credentialContext);
    const failure = apiFailure(result.error);
    toast(
      failure
        ? { title: 'Could not retry the sync', description: describeFailure(failure), variant: 'destructive' }
        : result.data?.retrySync
          ? { title: 'Sync retried', description: 'The MCP servers are asked again now.', variant: 'success' }
          : { title: 'Nothing to retry', description: 'No copy of this credential is failing now.' },
    );
  }

  async function recheck() {
    const result = await revalidate({ id: credential.id }, credentialContext);
    const failure = apiFailure(result.error);
    if (failure || !result.data) {
      toast({
        title: `Could not revalidate ${credential.name}`,
        description: failure ? describeFailure(failure, 'live checks') : undefined,
        variant: 'destructive',
      });
      return;
    }
    const { result: outcome, message } = result.data.revalidateCredential;
    if (outcome === 'VALID') {
      toast({
        title: `${credential.name} is valid`,
        description: `${serviceName} accepted it.`,
        variant: 'success',
      });
    } else if (outcome === 'INVALID') {
      toast({
        title: `${serviceName} refused ${credential.name}`,
        description: message ?? undefined,
        variant: 'destructive',
      });
    } else {
      toast({
        title: `${serviceName} could not be asked`,
        description: `${message ?? ''} Nothing was changed.`.trim(),
      });
    }
  }

  return (
    <article
      aria-labelledby={headingId}
      data-testid="credential-card"
      data-credential-id={credential.id}
      data-attention={reasons.length > 0 || undefined}
      className="flex flex-col rounded-md border bg-background p-3"
    >
      <div className="flex items-start justify-between gap-2">
        <div className="flex min-w-0 items-center gap-2">
          <StatusIcon status={credential.status} />
          <h4 id={headingId} className="truncate text-sm font-medium" title={credential.name}>
            {credential.name}
          </h4>
          {credential.isPrimary && (
            <Badge variant="secondary" data-testid="primary-badge">
              <Star aria-hidden="true" className="fill-current" />
              Primary
            </Badge>
          )}
        </div>
        <StatusBadge status={credential.status} />
      </div>

      {accountText && (
        <p className="mt-1 truncate text-xs text-muted-foreground" title={accountText}>
          <span className="sr-only">Account: </span>
          {accountText}
        </p>
      )}
      {reasons.length > 0 && (
        <ul className="mt-2 flex flex-wrap gap-1" aria-label="Needs attention">
          {reasons.map((r) => (
            <li key={r.kind}>
              <Badge
                variant={r.kind === 'expiring' ? 'warning' : 'destructive'}
                data-testid="attention-badge"
                data-reason={r.kind}
                className="whitespace-normal text-left font-medium"
              >
                {r.label}
              </Badge>
            </li>
          ))}
        </ul>
      )}

      {credential.syncStatus === 'ERROR' && actions.has('edit') && (
        <div className="mt-2">
          <Button size="sm" variant="outline" onClick={() => void retry()} disabled={retrying}>
            {retrying ? <Spinner /> : <RefreshCw aria-hidden="true" />}
            Retry sync
            <span className="sr-only"> of {credential.name}</span>
          </Button>
        </div>
      )}
      {oauthProvider && credential.scopes.length > 0 && (
        <p className="mt-1 text-xs text-muted-foreground" data-testid="granted-scopes">
          <span className="font-medium text-foreground/80">Granted:</span> {scopesLabel(credential.scopes)}
        </p>
      )}
      {oauthProvider && credential.status === 'ACTIVE' && credential.tokenExpiresAt && (
        <p className="mt-1 text-xs text-muted-foreground" data-testid="token-renewal">
          Token renews automatically; this one expires {timeAgo(credential.tokenExpiresAt)}.
        </p>
      )}
      {canReplaceExpired && (
        <div className="mt-2">
          <Button size="sm" variant="outline" onClick={() => setDialog('edit')}>
            <KeyRound aria-hidden="true" />
            Replace the expired key
            <span className="sr-only"> of {credential.name}</span>
          </Button>
        </div>
      )}
      {canReconnect && (
        <div className="mt-2 space-y-2">
          <Button
            size="sm"
            variant="outline"
            onClick={() => void oauth.connect(credential.service, { reconnect: credential.id })}
            disabled={oauth.starting}
            aria-busy={oauth.starting || undefined}
          >
            {oauth.starting ? <Spinner /> : <LogIn aria-hidden="true" />}
            Reconnect
            <span className="sr-only">
              {' '}
              {credential.name} with {oauthProvider}
            </span>
          </Button>
          {oauth.error && (
            <Alert variant="destructive" role="alert">
              {oauth.error}
            </Alert>
          )}
        </div>
      )}

      <dl className="mt-2 flex flex-wrap gap-x-3 gap-y-0.5 text-xs text-muted-foreground">
        <Meta label="Validated" title={dateTime(credential.lastValidatedAt)}>
          {timeAgo(credential.lastValidatedAt)}
        </Meta>
        <Meta label="Used" title={dateTime(credential.lastUsedAt)}>
          {timeAgo(credential.lastUsedAt)}
        </Meta>
        {credential.syncStatus !== 'ERROR' && (
          <Meta label="MCP" title={dateTime(credential.lastSyncedAt)}>
            {syncLabel(credential.syncStatus)}
          </Meta>
        )}
        {/* An ended authorization makes its last token's expiry meaningless. */}
        {credential.tokenExpiresAt && !(oauthProvider && credential.status === 'EXPIRED') && (
          <Meta label="Expires" title={dateTime(credential.tokenExpiresAt)}>
            {timeAgo(credential.tokenExpiresAt)}
          </Meta>
        )}
      </dl>

      {/* One action in view (the one this state calls for), the rest by name in a menu; the
          destructive ones apart at its end, each confirmed in its own dialog. */}
      <div
        className="mt-auto flex items-center justify-between gap-2 pt-2"
        role="group"
        aria-label={`Actions for ${credential.name}`}
      >
        {actions.has('setPrimary') ? (
          <Button variant="outline" size="sm" className="h-8" onClick={makePrimary} disabled={settingPrimary}>
            {settingPrimary ? <Spinner /> : <Star aria-hidden="true" />}
            Set as primary
          </Button>
        ) : actions.has('revalidate') ? (
          <Button variant="outline" size="sm" className="h-8" onClick={recheck} disabled={revalidating}>
            {revalidating ? <Spinner /> : <RefreshCw aria-hidden="true" />}
            Revalidate
          </Button>
        ) : (
          <Button variant="outline" size="sm" className="h-8" onClick={() => setDialog('history')}>
            <History aria-hidden="true" />
            History
          </Button>
        )}
        <DropdownMenu modal={false}>
          <DropdownMenuTrigger asChild>
            <Button ref={menuTrigger} variant="ghost" size="sm" className="h-8 px-2">
              <MoreHorizontal aria-hidden="true" />
              <span className="sr-only">More actions for {credential.name}</span>
            </Button>
          </DropdownMenuTrigger>
          <DropdownMenuContent align="end">
            {actions.has('setPrimary') && actions.has('revalidate') && (
              <DropdownMenuItem onSelect={() => void recheck()} disabled={revalidating}>
                <RefreshCw aria-hidden="true" />
                Revalidate
              </DropdownMenuItem>
            )}
            {actions.has('edit') && (
              <DropdownMenuItem onSelect={() => openFromMenu('edit')}>
                <Pencil aria-hidden="true" />
                Edit
              </DropdownMenuItem>
            )}
            {actions.has('reveal') && (
              <DropdownMenuItem onSelect={() => openFromMenu('reveal')}>
                <Eye aria-hidden="true" />
                Reveal secret
              </DropdownMenuItem>
            )}
            {actions.has('history') && (actions.has('setPrimary') || actions.has('revalidate')) && (
              <DropdownMenuItem onSelect={() => openFromMenu('history')}>
                <History aria-hidden="true" />
                History
              </DropdownMenuItem>
            )}
            {(actions.has('edit') || actions.has('reveal')) && <DropdownMenuSeparator />}
            {actions.has('revoke') && (
              <DropdownMenuItem destructive onSelect={() => openFromMenu('revoke')}>
                <Ban aria-hidden="true" />
                Revoke…
              </DropdownMenuItem>
            )}
            {actions.has('delete') && (
              <DropdownMenuItem destructive onSelect={() => openFromMenu('delete')}>
                <Trash2 aria-hidden="true" />
                Delete…
              </DropdownMenuItem>
            )}
          </DropdownMenuContent>
        </DropdownMenu>
      </div>

      <EditCredentialDialog
        open={dialog === 'edit'}
        onOpenChange={(o) => setDialog(o ? 'edit' : null)}
        credential={credential}
        serviceName={serviceName}
        fields={offered ? fields : null}
      />
      <RevealCredentialDialog
        open={dialog === 'reveal'}
        onOpenChange={(o) => setDialog(o ? 'reveal' : null)}
        credentialId={credential.id}
        name={credential.name}
        serviceName={serviceName}
      />
      <CredentialHistoryDialog
        open={dialog === 'history'}
        onOpenChange={(o) => setDialog(o ? 'history' : null)}
        credentialId={credential.id}
        name={credential.name}
      />
      <RevokeCredentialDialog
        open={dialog === 'revoke'}
        onOpenChange={(o) => setDialog(o ? 'revoke' : null)}
        credentialId={credential.id}
        name={credential.name}
      />
      <DeleteCredentialDialog
        open={dialog === 'delete'}
        onOpenChange={(o) => setDialog(o ? 'delete' : null)}
        credentialId={credential.id}
        name={credential.name}
        isPrimary={credential.isPrimary}
        serviceName={serviceName}
      />
    </article>
  );
}

function Meta({ label, title, children }: { label: string; title?: string; children: ReactNode }) {
  return (
    <div className="flex gap-1" title={title}>
      <dt>{label}:</dt>
      <dd className="font-medium text-foreground/80">{children}</dd>
    </div>
  );
}

/** An icon button whose label is its accessible name and tooltip (shown for `showLabel`). */
