import { cn } from '@/lib/utils';

// Brand marks are not bundled (no third-party assets under the CSP): a coloured monogram stands
// in for each service's icon key.
const COLOURS: Record<string, string> = {
  notion: 'bg-neutral-900 text-white',
  jira: 'bg-blue-600 text-white',
  todoist: 'bg-red-600 text-white',
  sentry: 'bg-violet-800 text-white',
  confluence: 'bg-sky-700 text-white',
  gmail: 'bg-red-500 text-white',
  'google-calendar': 'bg-blue-500 text-white',
  openai: 'bg-emerald-800 text-white',
  anthropic: 'bg-amber-700 text-white',
  mistral: 'bg-orange-600 text-white',
};

export function ServiceIcon({ icon, name, className }: { icon: string; name: string; className?: string }) {
  const initials = name
    .split(/\s+/)
    .map((w) => w.charAt(0))
    .join('')
    .slice(0, 2)
    .toUpperCase();
  return (
    <span
      aria-hidden="true"
      className={cn(
        'inline-flex h-10 w-10 shrink-0 items-center justify-center rounded-md text-sm font-bold',
        COLOURS[icon] ?? 'bg-slate-700 text-white',
        className,
      )}
    >
      {initials}
    </span>
  );
}
