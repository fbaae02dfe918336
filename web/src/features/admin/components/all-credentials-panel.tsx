import { Star } from 'lucide-react';
import { useEffect, useId, useMemo, useState } from 'react';
import { Button } from '@/components/ui/button';
import { useQuery } from 'urql';
import { StatusBadge, syncLabel } from '@/components/credential-status';
import { EmptyState, ErrorState, LoadingState, RefreshFailed } from '@/components/page-state';
import { Card } from '@/components/ui/card';
import { Input } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import { Select } from '@/components/ui/select';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { graphql } from '@/gql';
import type { CredentialStatus } from '@/gql/graphql';
import { apiFailure } from '@/lib/errors';
import { accountLabel, dateTime, timeAgo } from '@/lib/format';
import { useLastData, useRefetchOnRecovery, useStale } from '@/lib/use-last-data';
import { cn } from '@/lib/utils';

// Metadata only: this page never offers to reveal a secret, whoever looks at it.
const AllCredentialsQuery = graphql(`
  query AdminAllCredentials(
    $userId: String
    $service: String
    $status: CredentialStatus
    $first: Int!
    $after: ID
  ) {
    services {
      key
      displayName
    }
    allCredentials(userId: $userId, service: $service, status: $status, first: $first, after: $after) {
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
      lastValidatedAt
      lastUsedAt
      useCount
      syncStatus
      createdAt
    }
  }
`);

const STATUSES: CredentialStatus[] = ['ACTIVE', 'INACTIVE', 'INVALID', 'EXPIRED', 'REVOKED'];

/**
 * Credentials on one page: the next page starts after this page's last. One more is asked for,
 * and not shown, to know whether there is a next page (the API has no page info; fewer than
 * asked for is the end).
 */
export const PAGE = 100;

/** How long the owner filter waits after the last keystroke before it asks the server. */
export const OWNER_DEBOUNCE_MS = 300;

export function AllCredentialsPanel() {
  const ids = useId();
  // What is typed, and the owner asked for once typing has paused (not one query a keystroke).
  const [owner, setOwner] = useState('');
  const [ownerFilter, setOwnerFilter] = useState('');
  const [service, setService] = useState('');
  const [status, setStatus] = useState('');
  // The last credential of each page before this one (none: the first page).
  const [pages, setPages] = useState<string[]>([]);
  const filtered =
    <T,>(set: (value: T) => void) =>
    (value: T) => {
      set(value);
      setPages([]);
    };
  useEffect(() => {
    const next = owner.trim();
    if (next === ownerFilter) return;
    const timer = setTimeout(() => {
      setOwnerFilter(next);
      setPages([]);
    }, OWNER_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [owner, ownerFilter]);
  const variables = useMemo(
    () => ({
      userId: ownerFilter || null,
      service: service || null,
      status: (status || null) as CredentialStatus | null,
      first: PAGE + 1,
      after: pages.at(-1) ?? null,
    }),
    [ownerFilter, service, status, pages],
  );
  const [{ data: fresh, fetching, error, operation }, refetch] = useQuery({
    query: AllCredentialsQuery,
    variables,
    requestPolicy: 'cache-and-network',
    context: useMemo(() => ({ additionalTypenames: ['Credential'] }), []),
  });
  // Kept for these variables only: a page or filter the server refused shows why, not the last rows.
  const data = useLastData(fresh, variables);
  useRefetchOnRecovery(refetch);
  // The rows on screen may be another page's or other filters': then dimmed and marked busy.
  const stale = useStale(AllCredentialsQuery, variables, operation, data);
  const failure = apiFailure(error);
  const rows = data?.allCredentials.slice(0, PAGE);
  const hasNext = (data?.allCredentials.length ?? 0) > PAGE;
  // The page's `after` credential was erased meanwhile: the server cannot go on from it, and asks
  // to start again (VALIDATION); asking the same again would be refused the same.
  const startAgain = failure?.code === 'VALIDATION' && pages.length > 0;
  const serviceName = (key: string) => data?.services.find((s) => s.key === key)?.displayName ?? key;

  return (
    <section className="space-y-4" aria-label="All credentials">
      <form className="grid gap-3 sm:grid-cols-3" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <div className="space-y-1.5">
          <Label htmlFor={`${ids}-owner`}>Owner (user id)</Label>
          <Input
            id={`${ids}-owner`}
            value={owner}
            autoComplete="off"
            onChange={(e) => setOwner(e.target.value)}
          />
        </div>
        <div className="space-y-1.5">
          <Label htmlFor={`${ids}-service`}>Service</Label>
          <Select
            id={`${ids}-service`}
            value={service}
            onChange={(e) => filtered(setService)(e.target.value)}
          >
            <option value="">All services</option>
            {data?.services.map((s) => (
              <option key={s.key} value={s.key}>
                {s.displayName}
              </option>
            ))}
          </Select>
        </div>
        <div className="space-y-1.5">
          <Label htmlFor={`${ids}-status`}>Status</Label>
          <Select id={`${ids}-status`} value={status} onChange={(e) => filtered(setStatus)(e.target.value)}>
            <option value="">All statuses</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.charAt(0) + s.slice(1).toLowerCase()}
              </option>
            ))}
          </Select>
        </div>
      </form>
      <RefreshFailed data={data} failure={failure} fetching={fetching} refetch={refetch} />
      {!data ? (
        fetching || !failure ? (
          <LoadingState label="Loading credentials…" />
        ) : (
          <ErrorState
            message={failure.message}
            {...(startAgain
              ? { onRetry: () => setPages([]), retryLabel: 'Back to page 1' }
              : { onRetry: () => refetch({ requestPolicy: 'network-only' }) })}
          />
        )
      ) : !rows || (stale && rows.length === 0) ? (
        // Another page's or other filters' empty answer: these may match, so not "no credentials".
        <LoadingState label="Loading credentials…" />
      ) : rows.length === 0 ? (
        <EmptyState title="No credentials" description="No credential matches these filters." />
      ) : (
        <Card>
          {stale && <LoadingState className="justify-start border-b px-4 py-2" />}
          <Table aria-label="All credentials" aria-busy={stale || undefined} data-testid="all-credentials">
            <TableHeader>
              <TableRow>
                <TableHead>Owner</TableHead>
                <TableHead>Service</TableHead>
                <TableHead>Name</TableHead>
                <TableHead>Status</TableHead>
                <TableHead>Account</TableHead>
                <TableHead>Validated</TableHead>
                <TableHead>Used</TableHead>
                <TableHead>Sync</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody className={cn('transition-opacity', stale && 'opacity-50')}>
              {rows.map((c) => (
                <TableRow key={c.id} data-credential-id={c.id}>
                  <TableCell className="font-mono text-xs">{c.owner}</TableCell>
                  <TableCell>{serviceName(c.service)}</TableCell>
                  <TableCell className="font-medium">
                    <span className="inline-flex items-center gap-1">
                      {c.name}
                      {c.isPrimary && (
                        <Star
                          className="h-3.5 w-3.5 fill-current text-muted-foreground"
                          role="img"
                          aria-label="Primary"
                        />
                      )}
                    </span>
                  </TableCell>
                  <TableCell>
                    <StatusBadge status={c.status} />
                  </TableCell>
                  <TableCell className="max-w-[14rem] truncate text-xs">
                    {c.account ? accountLabel(c.account) : '—'}
                  </TableCell>
                  <TableCell className="whitespace-nowrap text-xs" title={dateTime(c.lastValidatedAt)}>
                    {timeAgo(c.lastValidatedAt)}
                  </TableCell>
                  <TableCell className="whitespace-nowrap text-xs" title={dateTime(c.lastUsedAt)}>
                    {timeAgo(c.lastUsedAt)} ({c.useCount})
                  </TableCell>
                  <TableCell className="whitespace-nowrap text-xs">{syncLabel(c.syncStatus)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Card>
      )}
      {(pages.length > 0 || hasNext) && (
        <nav className="flex items-center justify-end gap-2" aria-label="Pages">
          <span className="text-xs text-muted-foreground">Page {pages.length + 1}</span>
          <Button
            variant="outline"
            size="sm"
            disabled={fetching || pages.length === 0}
            onClick={() => setPages((p) => p.slice(0, -1))}
          >
            Previous
          </Button>
          <Button
            variant="outline"
            size="sm"
            disabled={fetching || !hasNext}
            onClick={() => {
              const last = rows?.at(-1);
              if (last) setPages((p) => [...p, last.id]);
            }}
          >
            Next
          </Button>
        </nav>
      )}
    </section>
  );
}
