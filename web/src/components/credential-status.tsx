import { AlertTriangle, Ban, CheckCircle2, Clock, PauseCircle, XCircle } from 'lucide-react';
import { Badge, type BadgeProps } from '@/components/ui/badge';
import type { CredentialStatus, SyncStatus } from '@/gql/graphql';
import { cn } from '@/lib/utils';

const STATUS: Record<
  CredentialStatus,
  { label: string; variant: BadgeProps['variant']; Icon: typeof CheckCircle2; tone: string }
> = {
  ACTIVE: { label: 'Active', variant: 'success', Icon: CheckCircle2, tone: 'text-success' },
  INACTIVE: { label: 'Inactive', variant: 'muted', Icon: PauseCircle, tone: 'text-muted-foreground' },
  INVALID: { label: 'Invalid', variant: 'destructive', Icon: XCircle, tone: 'text-destructive' },
  EXPIRED: { label: 'Expired', variant: 'warning', Icon: Clock, tone: 'text-warning' },
  REVOKED: { label: 'Revoked', variant: 'muted', Icon: Ban, tone: 'text-muted-foreground' },
};

export function statusLabel(status: CredentialStatus) {
  return STATUS[status]?.label ?? status;
}

export function StatusIcon({ status, className }: { status: CredentialStatus; className?: string }) {
  const { Icon, tone } = STATUS[status] ?? { Icon: AlertTriangle, tone: 'text-warning' };
  return <Icon className={cn('h-4 w-4 shrink-0', tone, className)} aria-hidden="true" />;
}

export function StatusBadge({ status }: { status: CredentialStatus }) {
  const { label, variant } = STATUS[status] ?? { label: status, variant: 'muted' as const };
  return (
    <Badge variant={variant} data-status={status}>
      <span className="sr-only">Status: </span>
      {label}
    </Badge>
  );
}

const SYNC: Record<SyncStatus, string> = {
  PENDING: 'Sync pending',
  SYNCED: 'Synced',
  ERROR: 'Sync failed',
  OUT_OF_SYNC: 'Out of sync',
};

export function syncLabel(sync: SyncStatus | null | undefined) {
  return sync ? (SYNC[sync] ?? sync) : 'Not synced';
}
