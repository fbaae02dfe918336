import { AlertTriangle, CheckCircle2, Clock, KeyRound, Plug } from 'lucide-react';
import { StatCard } from '@/components/stat-card';
import { getFragmentData, graphql, type FragmentType } from '@/gql';

export const StatsCardsFragment = graphql(`
  fragment StatsCards_Dashboard on Dashboard {
    total
    active
    expired
    expiringSoon
    servicesConnected
  }
`);

export function StatsCards({
  dashboard: ref,
  attention,
  filtering,
  onToggleAttention,
}: {
  dashboard: FragmentType<typeof StatsCardsFragment>;
  /** How many credentials need attention (invalid, expired, expiring soon, sync failed). */
  attention: number;
  filtering: boolean;
  onToggleAttention: () => void;
}) {
  const stats = getFragmentData(StatsCardsFragment, ref);
  const icon = 'h-4 w-4 text-muted-foreground';
  return (
    <section
      aria-label="Statistics"
      data-testid="stats"
      className="grid grid-cols-2 gap-3 md:grid-cols-5 md:gap-4"
    >
      <button
        type="button"
        onClick={onToggleAttention}
        aria-pressed={filtering}
        disabled={attention === 0 && !filtering}
        data-testid="attention-count"
        className="col-span-2 rounded-lg text-left focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring disabled:cursor-default md:col-span-1"
      >
        <StatCard
          label="Needs attention"
          value={attention}
          tone={attention > 0 ? 'destructive' : undefined}
          icon={<AlertTriangle className={icon} aria-hidden="true" />}
          hint={
            attention > 0 ? (filtering ? 'Showing only these · show all' : 'Show only these') : 'All good'
          }
        />
      </button>
      <StatCard
        label="Total credentials"
        value={stats.total}
        icon={<KeyRound className={icon} aria-hidden="true" />}
      />
      <StatCard
        label="Active"
        value={stats.active}
        tone="success"
        icon={<CheckCircle2 className={icon} aria-hidden="true" />}
      />
      <StatCard
        label="Expired"
        value={stats.expired}
        tone={stats.expired > 0 ? 'warning' : undefined}
        icon={<Clock className={icon} aria-hidden="true" />}
        hint={stats.expiringSoon > 0 ? `${stats.expiringSoon} expiring soon` : undefined}
      />
      <StatCard
        label="Services connected"
        value={stats.servicesConnected}
        icon={<Plug className={icon} aria-hidden="true" />}
      />
    </section>
  );
}
