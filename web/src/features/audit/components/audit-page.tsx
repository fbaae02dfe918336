import { ChevronLeft, ChevronRight, CheckCircle2, XCircle } from 'lucide-react';
import { useId, useMemo, useState } from 'react';
import { useQuery } from 'urql';
import { EmptyState, ErrorState, LoadingState, RefreshFailed } from '@/components/page-state';
import { PageHeader } from '@/components/page-header';
import { Button } from '@/components/ui/button';
import { Card, CardContent } from '@/components/ui/card';
import { Input } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import { Select } from '@/components/ui/select';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { graphql } from '@/gql';
import type { AuditFilter } from '@/gql/graphql';
import { apiFailure } from '@/lib/errors';
import { RelativeTime } from '@/components/relative-time';
import { clientLabel, dateTime, eventLabel, eventSentence } from '@/lib/format';
import { useSession } from '@/lib/session';
import { AUDIT_ACTION_GROUPS, dayBoundary } from '../api/actions';
import { useDocumentTitle } from '@/lib/use-document-title';
import { useLastData, useRefetchOnRecovery, useStale } from '@/lib/use-last-data';
import { cn } from '@/lib/utils';

const PAGE_SIZE = 20;

const AuditPageQuery = graphql(`
  query AuditPage($filter: AuditFilter, $first: Int!, $after: String) {
    services {
      key
      displayName
    }
    credentials {
      id
      name
    }
    auditTrail(filter: $filter, first: $first, after: $after) {
      edges {
        cursor
        node {
          position
          occurredAt
          action
          actor
          credentialId
          service
          context
          ip
          userAgent
          success
          error
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

interface Filters {
  service: string;
  action: string;
  from: string;
  to: string;
}

const EMPTY: Filters = { service: '', action: '', from: '', to: '' };

export function AuditPage() {
  useDocumentTitle('Audit');
  const ids = useId();
  const [filters, setFilters] = useState<Filters>(EMPTY);
  // Cursors of the pages before the current one; the current page starts after the last.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];

  const filter = useMemo<AuditFilter>(() => {
    const f: AuditFilter = {};
    if (filters.service) f.service = filters.service;
    if (filters.action) f.action = filters.action;
    const from = filters.from ? dayBoundary(filters.from, false) : null;
    const to = filters.to ? dayBoundary(filters.to, true) : null;
    if (from) f.from = from;
    if (to) f.to = to;
    return f;
  }, [filters]);

  const variables = useMemo(() => ({ filter, first: PAGE_SIZE, after }), [filter, after]);
  const [{ data: fresh, fetching, error, operation }, refetch] = useQuery({
    query: AuditPageQuery,
    variables,
    requestPolicy: 'cache-and-network',
    context: useMemo(() => ({ additionalTypenames: ['Credential', 'AuditEvent'] }), []),
  });
  // Kept for these variables only: a page or filter the server refused shows why, not the last rows.
  const data = useLastData(fresh, variables);
  useRefetchOnRecovery(refetch);
  // The rows on screen may be another page's or other filters': then dimmed and marked busy.
  const stale = useStale(AuditPageQuery, variables, operation, data);

  function setFilter<K extends keyof Filters>(key: K, value: Filters[K]) {
    setFilters((f) => ({ ...f, [key]: value }));
    setCursors([null]);
  }

  const { userId } = useSession();
  const services = data?.services ?? [];
  const credentialNames = new Map((data?.credentials ?? []).map((c) => [c.id, c.name]));
  const serviceName = (key: string | null | undefined) =>
    services.find((s) => s.key === key)?.displayName ?? key ?? '—';
  const edges = data?.auditTrail.edges ?? [];
  const pageInfo = data?.auditTrail.pageInfo;
  const failure = apiFailure(error);
  const page = cursors.length;
  const unfiltered = !filters.service && !filters.action && !filters.from && !filters.to;

  return (
    <div className="space-y-6">
      <PageHeader title="Audit" description="Every change and every disclosure, newest first." />
      <Card>
        <CardContent className="pt-4 sm:pt-6">
          <form
            className="grid gap-3 sm:grid-cols-2 lg:grid-cols-5 lg:items-end"
            aria-label="Filters"
            onSubmit={(e) => e.preventDefault()}
          >
            <div className="space-y-1.5">
              <Label htmlFor={`${ids}-service`}>Service</Label>
              <Select
                id={`${ids}-service`}
                value={filters.service}
                onChange={(e) => setFilter('service', e.target.value)}
              >
                <option value="">All services</option>
                {services.map((s) => (
                  <option key={s.key} value={s.key}>
                    {s.displayName}
                  </option>
                ))}
              </Select>
            </div>
            <div className="space-y-1.5">
              <Label htmlFor={`${ids}-action`}>Action</Label>
              <Select
                id={`${ids}-action`}
                value={filters.action}
                onChange={(e) => setFilter('action', e.target.value)}
              >
                <option value="">All actions</option>
                {AUDIT_ACTION_GROUPS.map((g) => (
                  <optgroup key={g.label} label={g.label}>
                    {g.actions.map((a) => (
                      <option key={a} value={a}>
                        {eventLabel(a)}
                      </option>
                    ))}
                  </optgroup>
                ))}
              </Select>
            </div>
            <div className="space-y-1.5">
              <Label htmlFor={`${ids}-from`}>From</Label>
              <Input
                id={`${ids}-from`}
                type="date"
                value={filters.from}
                max={filters.to || undefined}
                onChange={(e) => setFilter('from', e.target.value)}
              />
            </div>
            <div className="space-y-1.5">
              <Label htmlFor={`${ids}-to`}>To</Label>
              <Input
                id={`${ids}-to`}
                type="date"
                value={filters.to}
                min={filters.from || undefined}
                onChange={(e) => setFilter('to', e.target.value)}
              />
            </div>
            <Button
              variant="outline"
              onClick={() => {
                setFilters(EMPTY);
                setCursors([null]);
              }}
              disabled={unfiltered}
            >
              Clear filters
            </Button>
          </form>
        </CardContent>
      </Card>

      <RefreshFailed data={data} failure={failure} fetching={fetching} refetch={refetch} />
      {(!data && fetching) || (stale && edges.length === 0) ? (
        <LoadingState label="Loading the audit trail…" />
      ) : failure && !data ? (
        <ErrorState message={failure.message} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
      ) : edges.length === 0 ? (
        <EmptyState
          title="No events"
          description={
            page > 1
              ? unfiltered
                ? 'No older events.'
                : 'No older event matches these filters.'
              : unfiltered
                ? 'Nothing has happened yet.'
                : 'No event matches these filters.'
          }
        />
      ) : (
        <Card>
          {stale && <LoadingState className="justify-start border-b px-4 py-2" />}
          <Table aria-label="Audit events" aria-busy={stale || undefined} data-testid="audit-table">
            <TableHeader>
              <TableRow>
                <TableHead>When</TableHead>
                <TableHead>What happened</TableHead>
                <TableHead>Credential</TableHead>
                <TableHead>From</TableHead>
                <TableHead>Result</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody className={cn('transition-opacity', stale && 'opacity-50')}>
              {edges.map(({ node }) => (
                <TableRow key={node.position}>
                  <TableCell className="whitespace-nowrap">
                    <RelativeTime iso={node.occurredAt} />
                  </TableCell>
                  <TableCell>
                    <span className="font-medium" data-testid="audit-sentence">
                      {eventSentence(node.action, node.context, node.actor, userId)}
                    </span>
                    {/* The raw values, for those who want them. */}
                    <details className="text-xs text-muted-foreground">
                      <summary className="cursor-pointer select-none">Details</summary>
                      <p>
                        {eventLabel(node.action, node.context)} · {dateTime(node.occurredAt)} · by{' '}
                        {node.actor}
                        {node.ip && <> · {node.ip}</>}
                      </p>
                      {node.credentialId && <p className="font-mono">credential {node.credentialId}</p>}
                      {node.userAgent && <p className="break-all">{node.userAgent}</p>}
                      <p className="font-mono">position {node.position}</p>
                    </details>
                  </TableCell>
                  <TableCell>
                    <span className="block">
                      {node.credentialId
                        ? (credentialNames.get(String(node.credentialId)) ?? (
                            <span className="text-muted-foreground">not in your list</span>
                          ))
                        : '—'}
                    </span>
                    <span className="block text-xs text-muted-foreground">{serviceName(node.service)}</span>
                  </TableCell>
                  <TableCell className="text-xs">{clientLabel(node.userAgent) ?? '—'}</TableCell>
                  <TableCell>
                    {node.success ? (
                      <span className="inline-flex items-center gap-1 text-success">
                        <CheckCircle2 className="h-4 w-4" aria-hidden="true" /> OK
                      </span>
                    ) : (
                      <span
                        className="inline-flex items-center gap-1 text-destructive"
                        title={node.error ?? undefined}
                      >
                        <XCircle className="h-4 w-4" aria-hidden="true" /> {node.error ?? 'Failed'}
                      </span>
                    )}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Card>
      )}

      <nav className="flex items-center justify-between gap-2" aria-label="Audit pages">
        <Button
          variant="outline"
          size="sm"
          disabled={page <= 1 || fetching}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          <ChevronLeft aria-hidden="true" /> Newer
        </Button>
        <span className="text-sm text-muted-foreground">Page {page}</span>
        <Button
          variant="outline"
          size="sm"
          disabled={!pageInfo?.hasNextPage || !pageInfo.endCursor || fetching}
          onClick={() => pageInfo?.endCursor && setCursors((c) => [...c, pageInfo.endCursor ?? null])}
        >
          Older <ChevronRight aria-hidden="true" />
        </Button>
      </nav>
    </div>
  );
}
