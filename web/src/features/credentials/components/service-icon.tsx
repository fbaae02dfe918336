import {
  siAnthropic,
  siConfluence,
  siGmail,
  siGooglecalendar,
  siJira,
  siMistralai,
  siNotion,
  siSentry,
  siTodoist,
  type SimpleIcon,
} from 'simple-icons';
import { cn } from '@/lib/utils';

// The services' marks from Simple Icons (CC0; bundled, so nothing is fetched under the CSP).
// The marks stay their owners' trademarks, shown only to name the service being connected.
// OpenAI's mark is not in Simple Icons (its owner asked for its removal): a monogram stands in,
// as for any service a catalog file adds.
const LOGOS: Record<string, SimpleIcon> = {
  notion: siNotion,
  jira: siJira,
  todoist: siTodoist,
  sentry: siSentry,
  confluence: siConfluence,
  gmail: siGmail,
  'google-calendar': siGooglecalendar,
  anthropic: siAnthropic,
  mistral: siMistralai,
};

const MONOGRAM_COLOURS: Record<string, string> = {
  openai: 'bg-emerald-800 text-white',
};

export function ServiceIcon({ icon, name, className }: { icon: string; name: string; className?: string }) {
  const logo = LOGOS[icon];
  const box = 'inline-flex h-10 w-10 shrink-0 items-center justify-center rounded-md';
  if (logo) {
    return (
      <span aria-hidden="true" className={cn(box, 'border bg-white', className)} data-logo={icon}>
        <svg viewBox="0 0 24 24" className="h-6 w-6" fill={`#${logo.hex}`} focusable="false">
          <path d={logo.path} />
        </svg>
      </span>
    );
  }
  const initials = name
    .split(/\s+/)
    .map((w) => w.charAt(0))
    .join('')
    .slice(0, 2)
    .toUpperCase();
  return (
    <span
      aria-hidden="true"
      className={cn(box, 'text-sm font-bold', MONOGRAM_COLOURS[icon] ?? 'bg-slate-700 text-white', className)}
    >
      {initials}
    </span>
  );
}
