import { useMutation, useQuery } from 'urql';
import { EmptyState, ErrorState, LoadingState, RefreshFailed } from '@/components/page-state';
import { StatCard } from '@/components/stat-card';
import { Badge } from '@/components/ui/badge';
import { Card, CardContent, CardHeader, CardTitle } from '@/components/ui/card';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { graphql } from '@/gql';
import { apiFailure, describeFailure } from '@/lib/errors';
import { RelativeTime } from '@/components/relative-time';
import { Button } from '@/components/ui/button';
import { toast } from '@/components/ui/use-toast';
import { dateTime, humanizeAction, readableSyncError, timeAgo } from '@/lib/format';
import { useLastData, useRefetchOnRecovery } from '@/lib/use-last-data';
import type { SyncStatus } from '@/gql/graphql';

const AdminRetrySyncMutation = graphql(`
  mutation AdminRetrySync($id: ID!) {
    retrySync(id: $id)
  }
`);

const SystemMetricsQuery = graphql(`
  query AdminSystemMetrics {
    services {
      key
      displayName
    }
    systemMetrics {
      users
      servicesConnected
      totals {
        total
        active
        inactive
        invalid
        expired
        revoked
        pendingSync
        syncErrors
      }
      byService {
        service
        counts {
          total
          active
          invalid
          expired
          revoked
          pendingSync
          syncErrors
        }
      }
      recentValidations {
        position
        occurredAt
        action
        actor
        userId
        service
        credentialId
        success
        error
      }
      expiringSoon
      expiringCredentials {
        id
        owner
        service
        name
        tokenExpiresAt
      }
      failedSyncs {
        position
        occurredAt
        action
        userId
        service
        credentialId
        error
        context
      }
      failedSyncCredentials {
        id
        name
        syncStatus
      }
      usageByService {
        service
        day
        uses
      }
    }
  }
`);

/**
 * Where a credential whose sync failed stands now, when none of its copies is failing (its
 * `syncStatus` is the worst of its copies'): then Retry would find nothing to ask again.
 */
function sinceFailure(sync: SyncStatus | null | undefined): string {
  switch (sync) {
    case 'SYNCED':
      return 'Synced since';
    case 'PENDING':
      return 'Being sent again';
    case 'OUT_OF_SYNC':
      return 'Out of sync, being sent again';
    default:
      return 'No MCP server holds it now';
  }
}

/** A `YYYY-MM-DD` UTC day, `daysAgo` days before `now`. */
function utcDay(now: Date, daysAgo: number): string {
  return new Date(now.getTime() - daysAgo * 86_400_000).toISOString().slice(0, 10);
}

interface ServiceUses {
  service: string;
  today: number;
  week: number;
  fortnight: number;
}

/** Each service's uses today, over the last 7 days and over the 14 the server sends, busiest first. */
export function usageTotals(
  rows: readonly { service: string; day: string; uses: number }[],
  now: Date,
): ServiceUses[] {
  const today = utcDay(now, 0);
  const weekStart = utcDay(now, 6);
  const totals = new Map<string, ServiceUses>();
  for (const { service, day, uses } of rows) {
    const t = totals.get(service) ?? { service, today: 0, week: 0, fortnight: 0 };
    t.fortnight += uses;
    if (day >= weekStart) t.week += uses;
    if (day === today) t.today += uses;
    totals.set(service, t);
  }
  return [...totals.values()].sort((a, b) => b.fortnight - a.fortnight || a.service.localeCompare(b.service));
}

export function MetricsPanel() {
  const [{ data: fresh, fetching, error }, refetch] = useQuery({
    query: SystemMetricsQuery,
    requestPolicy: 'cache-and-network',
  });
  const data = useLastData(fresh);
  useRefetchOnRecovery(refetch);
  const [{ fetching: retrying }, retrySync] = useMutation(AdminRetrySyncMutation);

  async function retry(credentialId: string, label: string) {
    const result = await retrySync({ id: credentialId }, { additionalTypenames: ['Credential'] });
    const failure = apiFailure(result.error);
    toast(
      failure
        ? { title: `Could not retry ${label}`, description: describeFailure(failure), variant: 'destructive' }
        : result.data?.retrySync
          ? {
              title: `Retried ${label}`,
              description: 'Its MCP servers are asked again now.',
              variant: 'success',
            }
          : { title: `Nothing to retry for ${label}`, description: 'Its copies are not failing now.' },
    );
  }
  const failure = apiFailure(error);
  if (!data) {
    return fetching || !failure ? (
      <LoadingState label="Loading metrics…" />
    ) : (
      <ErrorState message={failure.message} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
    );
  }
  const m = data.systemMetrics;
  // The credentials the failures name that still exist, with their sync status now: a failure
  // listed here may have been overcome since (the list is the last failures, not the failing).
  const failedCredentials = new Map(data.systemMetrics.failedSyncCredentials.map((c) => [c.id, c]));
  const name = (key: string | null | undefined) =>
    data.services.find((s) => s.key === key)?.displayName ?? key ?? '—';

  return (
    <section className="space-y-6" aria-label="System metrics">
      <RefreshFailed data={data} failure={failure} fetching={fetching} refetch={refetch} />
      <div className="grid grid-cols-2 gap-3 md:grid-cols-4 xl:grid-cols-7">
        <StatCard label="Credentials" value={m.totals.total} />
        <StatCard label="Active" value={m.totals.active} tone="success" />
        <StatCard label="Invalid" value={m.totals.invalid} tone="destructive" />
        <StatCard label="Pending sync" value={m.totals.pendingSync} tone="warning" />
        <StatCard label="Sync errors" value={m.totals.syncErrors} tone="destructive" />
        <StatCard label="Expiring soon" value={m.expiringSoon} tone="warning" />
        <StatCard label="Users" value={m.users} />
      </div>

      <Card>
        <CardHeader>
          <CardTitle className="text-base">By service</CardTitle>
        </CardHeader>
        <CardContent>
          {m.byService.length === 0 ? (
            <EmptyState title="No credentials yet" />
          ) : (
            <Table aria-label="Credentials by service">
              <TableHeader>
                <TableRow>
                  <TableHead>Service</TableHead>
                  <TableHead className="text-right">Total</TableHead>
                  <TableHead className="text-right">Active</TableHead>
                  <TableHead className="text-right">Invalid</TableHead>
                  <TableHead className="text-right">Expired</TableHead>
                  <TableHead className="text-right">Revoked</TableHead>
                  <TableHead className="text-right">Pending sync</TableHead>
                  <TableHead className="text-right">Sync errors</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {m.byService.map((s) => (
                  <TableRow key={s.service}>
                    <TableCell className="font-medium">{name(s.service)}</TableCell>
                    <TableCell className="text-right tabular-nums">{s.counts.total}</TableCell>
                    <TableCell className="text-right tabular-nums">{s.counts.active}</TableCell>
                    <TableCell className="text-right tabular-nums">{s.counts.invalid}</TableCell>
                    <TableCell className="text-right tabular-nums">{s.counts.expired}</TableCell>
                    <TableCell className="text-right tabular-nums">{s.counts.revoked}</TableCell>
                    <TableCell className="text-right tabular-nums">{s.counts.pendingSync}</TableCell>
                    <TableCell className="text-right tabular-nums">{s.counts.syncErrors}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </CardContent>
      </Card>

      <Card>
        <CardHeader>
          <CardTitle className="text-base">Uses (resolves and reveals)</CardTitle>
        </CardHeader>
        <CardContent>
          {m.usageByService.length === 0 ? (
            <EmptyState title="No credential was used in the last 14 days" />
          ) : (
            <Table aria-label="Uses by service">
              <TableHeader>
                <TableRow>
                  <TableHead>Service</TableHead>
                  <TableHead className="text-right">Today (UTC)</TableHead>
                  <TableHead className="text-right">Last 7 days</TableHead>
                  <TableHead className="text-right">Last 14 days</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {usageTotals(m.usageByService, new Date()).map((u) => (
                  <TableRow key={u.service}>
                    <TableCell className="font-medium">{name(u.service)}</TableCell>
                    <TableCell className="text-right tabular-nums">{u.today}</TableCell>
                    <TableCell className="text-right tabular-nums">{u.week}</TableCell>
                    <TableCell className="text-right tabular-nums">{u.fortnight}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </CardContent>
      </Card>

      <Card>
        <CardHeader>
          <CardTitle className="text-base">Expiring soon</CardTitle>
        </CardHeader>
        <CardContent>
          {m.expiringCredentials.length === 0 ? (
            <EmptyState title="No credential expires soon" />
          ) : (
            <Table aria-label="Credentials expiring soon">
              <TableHeader>
                <TableRow>
                  <TableHead>Owner</TableHead>
                  <TableHead>Service</TableHead>
                  <TableHead>Name</TableHead>
                  <TableHead>Expires</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {m.expiringCredentials.map((c) => (
                  <TableRow key={c.id}>
                    <TableCell className="font-mono text-xs">{c.owner}</TableCell>
                    <TableCell>{name(c.service)}</TableCell>
                    <TableCell className="font-medium">{c.name}</TableCell>
                    <TableCell className="whitespace-nowrap text-xs" title={dateTime(c.tokenExpiresAt)}>
                      {timeAgo(c.tokenExpiresAt)}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </CardContent>
      </Card>

      <div className="grid gap-6 lg:grid-cols-2">
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Recent validations</CardTitle>
          </CardHeader>
          <CardContent>
            {m.recentValidations.length === 0 ? (
              <EmptyState title="No validations yet" />
            ) : (
              <ul className="divide-y text-sm">
                {m.recentValidations.map((v) => (
                  <li key={v.position} className="flex flex-wrap items-baseline justify-between gap-x-3 py-2">
                    <span>
                      <span
                        className={v.success ? 'font-medium text-success' : 'font-medium text-destructive'}
                      >
                        {humanizeAction(v.action)}
                      </span>{' '}
                      · {name(v.service)} · <span className="font-mono text-xs">{v.userId ?? v.actor}</span>
                      {v.error && <span className="block text-xs text-destructive">{v.error}</span>}
                    </span>
                    <time className="text-xs text-muted-foreground" dateTime={v.occurredAt}>
                      {dateTime(v.occurredAt)}
                    </time>
                  </li>
                ))}
              </ul>
            )}
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Failed syncs</CardTitle>
          </CardHeader>
          <CardContent>
            {m.failedSyncs.length === 0 ? (
              <EmptyState title="No failed syncs" />
            ) : (
              <ul className="divide-y text-sm">
                {m.failedSyncs.map((f) => {
                  const server = (f.context as Record<string, unknown> | null)?.target;
                  const credential = f.credentialId
                    ? failedCredentials.get(String(f.credentialId))
                    : undefined;
                  const failingNow = credential?.syncStatus === 'ERROR';
                  return (
                    <li key={f.position} className="py-2" data-testid="failed-sync">
                      <div className="flex flex-wrap items-baseline justify-between gap-x-3">
                        <span>
                          <span className="font-medium">{credential?.name ?? 'An erased credential'}</span> (
                          {name(f.service)}, {f.userId ?? '—'})
                          {typeof server === 'string' && <> → MCP server {server}</>}
                        </span>
                        <RelativeTime iso={f.occurredAt} className="text-xs text-muted-foreground" />
                      </div>
                      {f.error && (
                        <p
                          className={
                            failingNow ? 'text-xs text-destructive' : 'text-xs text-muted-foreground'
                          }
                        >
                          {readableSyncError(f.error)}
                        </p>
                      )}
                      {credential && !failingNow && (
                        <Badge variant="success" className="mt-1">
                          Resolved: {sinceFailure(credential.syncStatus)}
                        </Badge>
                      )}
                      {credential && failingNow && (
                        <Button
                          size="sm"
                          variant="outline"
                          className="mt-1 h-7"
                          disabled={retrying}
                          onClick={() => void retry(credential.id, credential.name)}
                        >
                          Retry
                          <span className="sr-only"> {credential.name}</span>
                        </Button>
                      )}
                    </li>
                  );
                })}
              </ul>
            )}
          </CardContent>
        </Card>
      </div>
    </section>
  );
}
