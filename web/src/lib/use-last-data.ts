import { useCallback, useState } from 'react';
import { useOnRecovered } from './connection';

/**
 * The last data a query answered, kept while a refetch fails (the server went away), so a page
 * keeps showing what it had under the offline banner instead of an error. A new `scope` (e.g. a
 * new GraphQL client after sign-out) forgets it.
 */
export function useLastData<T>(data: T | undefined, scope?: unknown): T | undefined {
  const [last, setLast] = useState({ data, scope });
  if (scope !== last.scope) {
    setLast({ data, scope });
    return data;
  }
  if (data !== undefined && data !== last.data) setLast({ data, scope });
  return data ?? last.data;
}

/** Refetches from the network each time the server answers again after being unreachable. */
export function useRefetchOnRecovery(refetch: (opts: { requestPolicy: 'network-only' }) => void) {
  const onRecovered = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useOnRecovered(onRecovered);
}
