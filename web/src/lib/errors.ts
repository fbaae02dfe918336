import type { CombinedError } from 'urql';

/** The stable `extensions.code` values the API answers with. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'VALIDATION'
  | 'INVALID_CREDENTIAL'
  | 'PROVIDER_UNREACHABLE'
  | 'RATE_LIMITED'
  | 'CONFLICT'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'NETWORK';

export interface ApiFailure {
  code: ErrorCode;
  message: string;
  /** Seconds to wait, for RATE_LIMITED and UNAVAILABLE. */
  retryAfter?: number;
}

const FALLBACK: Record<ErrorCode, string> = {
  UNAUTHENTICATED: 'Your session has ended. Sign in again.',
  FORBIDDEN: 'You are not allowed to do this.',
  NOT_FOUND: 'This no longer exists.',
  VALIDATION: 'Some values are not valid.',
  INVALID_CREDENTIAL: 'The provider refused this credential.',
  PROVIDER_UNREACHABLE: 'The provider could not be reached. Nothing was changed.',
  RATE_LIMITED: 'Too many requests. Try again in a moment.',
  CONFLICT: 'This conflicts with an existing credential.',
  INTERNAL: 'Something went wrong on the server. Try again.',
  UNAVAILABLE: 'The server cannot reach its database right now. Nothing was changed; try again in a moment.',
  NETWORK: 'The server could not be reached. Check your connection and try again.',
};

const KNOWN = new Set<string>(Object.keys(FALLBACK));

/** The first error of a GraphQL answer, reduced to its code, message and retry delay. */
export function apiFailure(error: CombinedError | undefined | null): ApiFailure | null {
  if (!error) return null;
  const first = error.graphQLErrors[0];
  if (!first) {
    return { code: 'NETWORK', message: FALLBACK.NETWORK };
  }
  const ext = (first.extensions ?? {}) as Record<string, unknown>;
  const raw = typeof ext.code === 'string' ? ext.code : 'INTERNAL';
  const code = (KNOWN.has(raw) ? raw : 'INTERNAL') as ErrorCode;
  const retry = ext.retryAfter;
  const retryAfter =
    typeof retry === 'number' ? retry : typeof retry === 'string' ? Number(retry) : undefined;
  const message = code === 'INTERNAL' ? FALLBACK.INTERNAL : first.message || FALLBACK[code];
  return {
    code,
    message,
    ...(retryAfter !== undefined && Number.isFinite(retryAfter) ? { retryAfter } : {}),
  };
}

/** What a refusal for RATE_LIMITED counted: the API's requests, live checks or sign-ins. */
export type Limited = 'requests' | 'live checks' | 'sign-in attempts';

/**
 * A sentence for a person: the server's message, with the wait spelled out when rate limited
 * (`limited` names what the action spends, so a refused sign-in does not speak of live checks).
 */
export function describeFailure(failure: ApiFailure, limited: Limited = 'requests'): string {
  if (failure.code === 'RATE_LIMITED') {
    const wait = failure.retryAfter;
    return wait !== undefined
      ? `Too many ${limited}. Try again in ${Math.max(1, Math.ceil(wait))} s.`
      : `Too many ${limited}. Try again in a moment.`;
  }
  return failure.message;
}

export function isUnauthenticated(error: CombinedError | undefined | null): boolean {
  return apiFailure(error)?.code === 'UNAUTHENTICATED';
}
