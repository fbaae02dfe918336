import { useCallback, useMemo, useState } from 'react';
import { createRequest, type AnyVariables, type DocumentInput, type Operation } from 'urql';
import { useOnRecovered } from './connection';

/**
 * The last data a query answered, kept while a refetch fails (the server went away), so a page
 * keeps showing what it had under the offline banner instead of an error. A new `scope` (e.g. a
 * new GraphQL client after sign-out, or the variables: another page, other filters) forgets it.
 * The old scope's answer, which urql still gives while the new scope's loads, is passed through
 * meanwhile but never kept: when the new scope's request fails there is no data, and the page
 * says why instead of showing the old answer as the new one. A query that failed as a whole
 * answers `{"data": null, "errors": [...]}`: `null` is no answer, and the last one is kept.
 */
export function useLastData<T>(given: T | null | undefined, scope?: unknown): T | undefined {
  const data = given ?? undefined;
  const [last, setLast] = useState<{ data: T | undefined; scope: unknown; carried?: T }>({ data, scope });
  if (scope !== last.scope) {
    const carried = data !== undefined && (data === last.data || data === last.carried);
    setLast(carried ? { data: undefined, scope, carried: data } : { data, scope });
    return data;
  }
  // The scope's own answer: kept, and the one carried over forgotten (going back to the page it
  // came from, the cache gives that same answer as that page's own).
  if (data !== undefined && data !== last.data && data !== last.carried) setLast({ data, scope });
  return data ?? last.data;
}

/**
 * Refetches from the network each time the server answers again after being unreachable, or live
 * updates resume after a gap.
 */
export function useRefetchOnRecovery(refetch: (opts: { requestPolicy: 'network-only' }) => void) {
  const onRecovered = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useOnRecovered(onRecovered);
}

/**
 * Whether the data on screen answers other variables than these: urql gives the last answer (of
 * another page, other filters) while the answer to these loads. The page then marks it stale
 * (busy, dimmed, a Loading… line) rather than showing it as the answer. `operation` is the one
 * `useQuery` answered; `data` what the page shows (no data: nothing stale).
 */
export function useStale<Data, Variables extends AnyVariables>(
  query: DocumentInput<Data, Variables>,
  variables: Variables,
  operation: Operation | undefined,
  data: unknown,
): boolean {
  const key = useMemo(() => createRequest(query, variables).key, [query, variables]);
  return data !== undefined && operation?.key !== key;
}
