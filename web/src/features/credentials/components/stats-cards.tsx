import { CheckCircle2, Clock, KeyRound, Plug } from 'lucide-react';
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

export function StatsCards({ dashboard: ref }: { dashboard: FragmentType<typeof StatsCardsFragment> }) {
  const stats = getFragmentData(StatsCardsFragment, ref);
  const icon = 'h-4 w-4 text-muted-foreground';
  return (
    <section
      aria-label="Statistics"
      data-testid="stats"
      className="grid grid-cols-2 gap-3 md:grid-cols-4 md:gap-4"
    >
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
        tone="warning"
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
