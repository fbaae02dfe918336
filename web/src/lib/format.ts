const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** "3 minutes ago", or `never` for a missing date. */
export function timeAgo(iso: string | null | undefined, now: Date = new Date(), never = 'Never') {
  if (!iso) return never;
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return never;
  const seconds = Math.round((then.getTime() - now.getTime()) / 1000);
  if (Math.abs(seconds) < 10) return 'just now';
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === 'second') {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return never;
}

/** A full local date and time, for titles and tables. */
export function dateTime(iso: string | null | undefined, never = '—') {
  if (!iso) return never;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? never : absolute.format(d);
}

/** `CredentialValidated` → "Credential validated". */
export function humanizeAction(action: string) {
  const words = action
    .replace(/OAuth/g, 'Oauth')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .replace(/\boauth\b/g, 'OAuth');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** `API_TOKEN` → "API token", `OAUTH_2` → "OAuth 2". */
export function authTypeLabel(authType: string) {
  switch (authType) {
    case 'API_TOKEN':
      return 'API token';
    case 'API_KEY':
      return 'API key';
    case 'OAUTH_2':
      return 'OAuth 2';
    case 'BASIC_AUTH':
      return 'Basic auth';
    default:
      return authType;
  }
}
