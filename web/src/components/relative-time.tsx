import { dateTime, timeAgo } from '@/lib/format';

/** "2 minutes ago", with the full local date and time on hover and for machines. */
export function RelativeTime({ iso, className }: { iso: string; className?: string }) {
  return (
    <time className={className} dateTime={iso} title={dateTime(iso)}>
      {timeAgo(iso)}
    </time>
  );
}
