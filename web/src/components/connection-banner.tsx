import { WifiOff } from 'lucide-react';
import { useConnection } from '@/lib/connection';
import { cn } from '@/lib/utils';

/** Says so when the server cannot be reached; the page keeps its last data underneath. */
export function ConnectionBanner() {
  const { server } = useConnection();
  if (server === 'online') return null;
  return (
    <div
      role="status"
      data-testid="offline-banner"
      className="border-b border-warning/40 bg-warning/10 text-sm text-foreground"
    >
      <div className="container flex items-center gap-2 py-2">
        <WifiOff className="h-4 w-4 shrink-0 text-warning" aria-hidden="true" />
        <span>
          <strong className="font-medium">Offline, retrying.</strong> The server cannot be reached; what you
          see is the last data loaded and will refresh when it answers.
        </span>
      </div>
    </div>
  );
}

/** The live-update connection: a dot and a word, so a person knows whether the page updates itself. */
export function LiveIndicator() {
  const { server, live } = useConnection();
  const state = server === 'offline' ? 'closed' : live;
  const label = state === 'connected' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Not live';
  return (
    <span
      data-testid="live-indicator"
      data-state={state}
      title={
        state === 'connected'
          ? 'Changes appear as they happen'
          : 'Live updates are paused; they resume when the server answers'
      }
      className="flex items-center gap-1.5 text-xs text-muted-foreground"
    >
      <span
        aria-hidden="true"
        className={cn(
          'h-2 w-2 rounded-full',
          state === 'connected' ? 'bg-success' : state === 'connecting' ? 'bg-warning' : 'bg-destructive',
        )}
      />
      {label}
    </span>
  );
}
