import { useQuery } from 'urql';
import { ErrorState, EmptyState, LoadingState } from '@/components/page-state';
import { Dialog, DialogContent, DialogDescription, DialogHeader, DialogTitle } from '@/components/ui/dialog';
import { graphql } from '@/gql';
import { apiFailure } from '@/lib/errors';
import { RelativeTime } from '@/components/relative-time';
import { clientLabel, dateTime, eventLabel, eventSentence } from '@/lib/format';
import { useSession } from '@/lib/session';
import { credentialContext } from '../api/context';

/** The newest events the dialog shows; the audit page pages through the rest. */
export const HISTORY_SHOWN = 200;

const CredentialHistoryQuery = graphql(`
  query CredentialHistory($id: ID!, $last: Int!) {
    credentialHistory(id: $id, last: $last) {
      position
      type
      occurredAt
      actor
      ip
      userAgent
      requestId
      payload
      hash
    }
  }
`);

interface Props {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  credentialId: string;
  name: string;
}

export function CredentialHistoryDialog({ open, onOpenChange, credentialId, name }: Props) {
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent className="max-w-2xl">
        <DialogHeader>
          <DialogTitle>History of {name}</DialogTitle>
          <DialogDescription>
            Every event of this credential in the ledger: who, when, what, and from where.
          </DialogDescription>
        </DialogHeader>
        <HistoryList credentialId={credentialId} />
      </DialogContent>
    </Dialog>
  );
}

const HIDDEN_CONTEXT = new Set(['event_version', 'sequence', 'success']);

function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** What an event changed, as "field: old → new", plus any context worth reading. */
export function summary(payload: Record<string, unknown>): string {
  const before = asRecord(payload?.old);
  const after = asRecord(payload?.new);
  const parts: string[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (key in before && key in after) {
      if (show(before[key]) !== show(after[key]))
        parts.push(`${key}: ${show(before[key])} → ${show(after[key])}`);
    } else if (key in after) {
      parts.push(`${key}: ${show(after[key])}`);
    } else {
      parts.push(`${key}: ${show(before[key])} → —`);
    }
  }
  for (const [key, value] of Object.entries(asRecord(payload?.context))) {
    if (!HIDDEN_CONTEXT.has(key) && value !== null && value !== '') parts.push(`${key}: ${show(value)}`);
  }
  for (const [key, value] of Object.entries(payload ?? {})) {
    if (!['old', 'new', 'context'].includes(key) && value !== null && value !== '') {
      parts.push(`${key}: ${show(value)}`);
    }
  }
  return parts.join(' · ');
}

function HistoryList({ credentialId }: { credentialId: string }) {
  const { userId } = useSession();
  const [{ data, fetching, error }, refetch] = useQuery({
    query: CredentialHistoryQuery,
    variables: { id: credentialId, last: HISTORY_SHOWN },
    requestPolicy: 'cache-and-network',
    context: credentialContext,
  });
  if (fetching && !data) return <LoadingState label="Loading history…" />;
  const failure = apiFailure(error);
  if (failure && !data) {
    return (
      <ErrorState
        title="Could not load the history"
        message={failure.message}
        onRetry={() => refetch({ requestPolicy: 'network-only' })}
      />
    );
  }
  // Newest first, as on the audit page.
  const events = [...(data?.credentialHistory ?? [])].reverse();
  if (events.length === 0) return <EmptyState title="No events yet" />;
  return (
    <>
      {events.length === HISTORY_SHOWN && (
        <p className="text-xs text-muted-foreground">
          The newest {HISTORY_SHOWN} events; the audit page has the ones before them.
        </p>
      )}
      <ol className="max-h-[60vh] space-y-2 overflow-y-auto pr-1" aria-label="Events, newest first">
        {events.map((event) => {
          const details = summary(event.payload);
          const context = asRecord(event.payload).context ?? {};
          const from = clientLabel(event.userAgent);
          return (
            <li key={event.position} className="rounded-md border p-3 text-sm">
              <div className="flex flex-wrap items-baseline justify-between gap-x-3">
                <span className="font-medium" data-testid="event-sentence">
                  {eventSentence(event.type, context, event.actor, userId)}
                </span>
                <RelativeTime iso={event.occurredAt} className="text-xs text-muted-foreground" />
              </div>
              {from && <p className="text-xs text-muted-foreground">from {from}</p>}
              {/* Raw values, ids and the chain's bookkeeping, for those who want them. */}
              <details className="mt-1 text-xs text-muted-foreground">
                <summary className="cursor-pointer select-none">Details</summary>
                <p className="mt-1 text-foreground/80">
                  <span data-testid="event-label">{eventLabel(event.type, context)}</span> ·{' '}
                  {dateTime(event.occurredAt)} · by {event.actor}
                  {event.ip && <> · {event.ip}</>}
                </p>
                {details && <p className="mt-1 break-words text-foreground/80">{details}</p>}
                {event.userAgent && <p className="mt-1 break-words">{event.userAgent}</p>}
                <p className="mt-1 truncate font-mono text-[10px]" title={event.hash}>
                  position {event.position} · hash {event.hash}
                </p>
              </details>
            </li>
          );
        })}
      </ol>
    </>
  );
}
