import { AlertTriangle, Inbox } from 'lucide-react';
import type { ReactNode } from 'react';
import { Alert } from '@/components/ui/alert';
import { Button } from '@/components/ui/button';
import { Spinner } from '@/components/ui/spinner';
import type { ApiFailure } from '@/lib/errors';
import { cn } from '@/lib/utils';

export function LoadingState({ label = 'Loading…', className }: { label?: string; className?: string }) {
  return (
    <div
      role="status"
      aria-live="polite"
      className={cn('flex items-center justify-center gap-2 py-10 text-sm text-muted-foreground', className)}
    >
      <Spinner />
      <span>{label}</span>
    </div>
  );
}

/**
 * Grey blocks where a page's stat cards and cards will be, while it loads: the layout holds
 * still when the data arrives. Screen readers hear the label.
 */
export function SkeletonState({
  label = 'Loading…',
  stats = 4,
  cards = 6,
}: {
  label?: string;
  stats?: number;
  cards?: number;
}) {
  return (
    <div role="status" aria-live="polite" aria-busy="true" data-testid="skeleton" className="space-y-6">
      <span className="sr-only">{label}</span>
      <div className="grid grid-cols-2 gap-3 lg:grid-cols-4" aria-hidden="true">
        {Array.from({ length: stats }, (_, i) => (
          <div key={i} className="h-20 animate-pulse rounded-lg bg-muted" />
        ))}
      </div>
      <div className="grid gap-4 md:grid-cols-2 xl:grid-cols-3" aria-hidden="true">
        {Array.from({ length: cards }, (_, i) => (
          <div key={i} className="h-44 animate-pulse rounded-lg bg-muted" />
        ))}
      </div>
    </div>
  );
}

export function ErrorState({
  title = 'Could not load this page',
  message,
  onRetry,
  retryLabel = 'Try again',
  className,
}: {
  title?: string;
  message: string;
  onRetry?: () => void;
  /** What the retry button does, when it does not ask the same again. */
  retryLabel?: string;
  className?: string;
}) {
  return (
    <div
      role="alert"
      className={cn(
        'flex flex-col items-center justify-center gap-3 rounded-lg border border-destructive/30 bg-destructive/5 px-4 py-8 text-center',
        className,
      )}
    >
      <AlertTriangle className="h-6 w-6 text-destructive" aria-hidden="true" />
      <div>
        <p className="font-medium">{title}</p>
        <p className="text-sm text-muted-foreground">{message}</p>
      </div>
      {onRetry && (
        <Button variant="outline" size="sm" onClick={onRetry}>
          {retryLabel}
        </Button>
      )}
    </div>
  );
}

export function EmptyState({
  title,
  description,
  action,
  className,
}: {
  title: string;
  description?: string;
  action?: ReactNode;
  className?: string;
}) {
  return (
    <div
      className={cn(
        'flex flex-col items-center justify-center gap-2 rounded-lg border border-dashed px-4 py-8 text-center',
        className,
      )}
    >
      <Inbox className="h-6 w-6 text-muted-foreground" aria-hidden="true" />
      <p className="font-medium">{title}</p>
      {description && <p className="text-sm text-muted-foreground">{description}</p>}
      {action}
    </div>
  );
}

/**
 * Above a page's last answer when a refetch failed with an error from the server: the page stays
 * as it was, its open dialogs with it, and says why it may be out of date; Try again refetches
 * from the network. Nothing before the page has an answer (its error state says why), when there
 * is no failure, or when the server could not be reached (the offline banner says so). Takes the
 * page's query as it is: its last answer (`useLastData`), failure, `fetching` and `refetch`.
 */
export function RefreshFailed({
  data,
  failure,
  fetching,
  refetch,
}: {
  data: unknown;
  failure: ApiFailure | null;
  fetching: boolean;
  refetch: (opts: { requestPolicy: 'network-only' }) => void;
}) {
  if (!data || !failure || failure.code === 'NETWORK') return null;
  return (
    <Alert variant="destructive" role="alert" data-testid="refresh-failed">
      <AlertTriangle aria-hidden="true" />
      <span className="flex-1">Could not refresh: {failure.message} What you see is the last answer.</span>
      <Button
        variant="outline"
        size="sm"
        onClick={() => refetch({ requestPolicy: 'network-only' })}
        disabled={fetching}
      >
        Try again
      </Button>
    </Alert>
  );
}
