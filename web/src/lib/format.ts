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

/**
 * A date's calendar day where the person is, as a date input takes it ("2026-01-02"): not
 * `toISOString()`'s, which is UTC's and a day off either side of midnight away from Greenwich.
 */
export function localDay(date: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
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

const EVENT_LABELS: Record<string, string> = {
  CredentialRegistered: 'Added',
  CredentialRenamed: 'Renamed',
  CredentialMetadataChanged: 'Labels changed',
  SecretReplaced: 'Secret replaced',
  CredentialValidated: 'Checked: valid',
  ValidationFailed: 'Checked: refused',
  ValidationInconclusive: 'Check could not be made',
  PrimaryCredentialChanged: 'Primary changed',
  CredentialRevoked: 'Revoked',
  CredentialExpired: 'Expired',
  CredentialErased: 'Erased',
  CredentialUsed: 'Used or revealed',
  OAuthTokenRefreshed: 'Token renewed',
  CredentialSyncedToMcp: 'Copied to an MCP server',
  CredentialRemovedFromMcp: 'Removed from an MCP server',
  CredentialSyncFailed: 'MCP sync failed',
  CredentialDriftedOnMcp: "MCP server's copy out of date",
  UserRegistered: 'User added',
  PasswordChanged: 'Password changed',
  UserLocked: 'User locked',
  UserUnlocked: 'User unlocked',
  PermissionGranted: 'Permission granted',
  PermissionRevoked: 'Permission withdrawn',
  ApiTokenIssued: 'API token created',
  ApiTokenRevoked: 'API token revoked',
  McpServerRegistered: 'MCP server added',
  McpServerChanged: 'MCP server changed',
  McpServerRemoved: 'MCP server removed',
  McpAccessGranted: 'MCP server given access',
  McpAccessWithdrawn: "MCP server's access withdrawn",
  McpServerTokenIssued: 'MCP server token created',
  McpServerTokenRevoked: 'MCP server token revoked',
  McpReplayRequested: 'MCP server asked to resend',
};

function field(context: unknown, name: string): string | null {
  if (!context || typeof context !== 'object') return null;
  const record = context as Record<string, unknown>;
  const value = record[name] ?? (record.detail as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value ? value : null;
}

/**
 * What an event is, in a person's words: "Secret revealed" for a reveal, "Used by search_pages"
 * for a use reported by a tool. `context` is the event's context as the API gives it.
 */
export function eventLabel(action: string, context?: unknown): string {
  if (action === 'CredentialUsed') {
    if (field(context, 'purpose') === 'reveal') return 'Secret revealed';
    if (context !== undefined) {
      const tool = field(context, 'tool');
      return tool ? `Used by ${tool}` : 'Used';
    }
  }
  return EVENT_LABELS[action] ?? humanizeAction(action);
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

/** Who did something, in words: "You", "The scheduler", "MCP server gw", or the person's id. */
export function actorLabel(actor: string, you?: string): string {
  if (you && actor === you) return 'You';
  if (actor.startsWith('mcp:')) return `MCP server ${actor.slice(4)}`;
  switch (actor) {
    case 'scheduler':
      return 'The scheduler';
    case 'cli':
      return 'An operator (command line)';
    case 'oauth-refresh':
      return 'Automatic token renewal';
    case 'mcp-sync':
      return 'The MCP sender';
    case 'dev':
      return 'The demo setup';
    case 'anonymous':
      return 'Someone not signed in';
    default:
      return actor;
  }
}

const BROWSERS: [RegExp, string][] = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\bOPR\//, 'Opera'],
  [/\bFirefox\//, 'Firefox'],
  [/\bChromium\//, 'Chromium'],
  [/\b(Headless)?(Chrome|CriOS)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];

const SYSTEMS: [RegExp, string][] = [
  [/\bWindows\b/, 'Windows'],
  [/\b(iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bLinux\b/, 'Linux'],
];

/**
 * Where a request came from, from its User-Agent: "Chrome on Linux" for a browser, the
 * product's name ("credledger", "python-httpx") for a program; null when there is none.
 */
export function clientLabel(userAgent: string | null | undefined): string | null {
  const ua = (userAgent ?? '').slice(0, 512).trim();
  if (!ua) return null;
  const browser = BROWSERS.find(([re]) => re.test(ua))?.[1];
  if (browser) {
    const system = SYSTEMS.find(([re]) => re.test(ua))?.[1];
    return system ? `${browser} on ${system}` : browser;
  }
  const product = /^[A-Za-z][\w.-]{0,40}/.exec(ua)?.[0];
  return product ?? null;
}

const EVENT_PREDICATES: Record<string, string> = {
  CredentialRegistered: 'added it',
  CredentialRenamed: 'renamed it',
  CredentialMetadataChanged: 'changed its labels',
  SecretReplaced: 'replaced the secret',
  CredentialValidated: 'checked it: valid',
  ValidationFailed: 'checked it: refused by the provider',
  ValidationInconclusive: 'could not check it with the provider',
  PrimaryCredentialChanged: 'changed the primary account',
  CredentialRevoked: 'revoked it',
  CredentialExpired: 'marked it expired',
  CredentialErased: 'erased it',
  OAuthTokenRefreshed: 'renewed the token',
  CredentialSyncedToMcp: 'copied it to an MCP server',
  CredentialRemovedFromMcp: 'removed it from an MCP server',
  CredentialSyncFailed: 'could not copy it to an MCP server',
  CredentialDriftedOnMcp: "found an MCP server's copy out of date",
};

/**
 * An event as a sentence a person reads: "You revealed the secret", "The scheduler checked it:
 * valid", "MCP server gw used it for search_pages".
 */
export function eventSentence(action: string, context: unknown, actor: string, you?: string): string {
  let predicate = EVENT_PREDICATES[action];
  if (action === 'CredentialUsed') {
    const tool = field(context, 'tool');
    predicate =
      field(context, 'purpose') === 'reveal'
        ? 'revealed the secret'
        : tool
          ? `used it for ${tool}`
          : 'used it';
  }
  return `${actorLabel(actor, you)} ${predicate ?? humanizeAction(action).toLowerCase()}`;
}

/**
 * A sync error as a person reads it: without an operating system's error number ("(os error
 * 111)"), which older events may still carry.
 */
export function readableSyncError(message: string): string {
  return message.replace(/\s*\(os error \d+\)/g, '').trim();
}

/**
 * The upstream account in words: its name and email, or, for an API key whose provider names no
 * account (the catalog's `key:<fingerprint>` identity), "Key fingerprint 6726 8320".
 */
export function accountLabel(account: {
  id: string;
  displayName?: string | null;
  email?: string | null;
}): string {
  const named = [account.displayName, account.email].filter(Boolean).join(' · ');
  if (named) return named;
  const fingerprint = /^key:([0-9a-f]{8})/i.exec(account.id)?.[1];
  return fingerprint ? `Key fingerprint ${fingerprint.slice(0, 4)} ${fingerprint.slice(4)}` : account.id;
}
