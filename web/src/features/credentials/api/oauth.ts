import { useState } from 'react';
import { useMutation } from 'urql';
import { graphql } from '@/gql';
import { apiFailure, describeFailure } from '@/lib/errors';

export const StartOAuthConnectionMutation = graphql(`
  mutation StartOAuthConnection($service: String!, $name: String, $reconnect: ID) {
    startOAuthConnection(service: $service, name: $name, reconnect: $reconnect) {
      authorizationUrl
    }
  }
`);

/** The provider's name as people know it ("Google" for `google`). */
export function providerName(provider: string | null | undefined): string {
  if (!provider) return 'the provider';
  return provider.charAt(0).toUpperCase() + provider.slice(1);
}

/** Scopes as people read them: the last part of each URL (`gmail.readonly`), comma-separated. */
export function scopesLabel(scopes: readonly string[]): string {
  return scopes.map((scope) => scope.split('/').filter(Boolean).pop() ?? scope).join(', ');
}

/** What each `?oauth_error=` reason the server's callback lands with means, for a person. */
export function oauthErrorMessage(code: string, provider = 'the provider'): string {
  switch (code) {
    case 'denied':
      return `You cancelled the connection at ${provider}; nothing was stored.`;
    case 'flow':
      return 'That connection link expired, was already used or did not come from this browser session; nothing was stored. Start again from the dashboard.';
    case 'exchange':
      return `${provider} did not hand over the account's tokens; nothing was stored. Try again.`;
    case 'no_refresh_token':
      return `${provider} granted access without a refresh token, so the account could not be kept connected; nothing was stored. Remove the app's access in your ${provider} account settings and connect again.`;
    case 'missing_scopes':
      return `You did not grant every permission the service needs at ${provider}; nothing was stored. Connect again and leave every permission ticked.`;
    case 'check':
      return `${provider} refused the new tokens when they were checked; nothing was stored.`;
    case 'duplicate':
      return 'This account is already connected. Use Reconnect on its card to give it new tokens.';
    case 'other_account':
      return 'You signed in with another account than the one being reconnected; nothing was changed.';
    case 'name_taken':
      return 'You already have a credential with that name for this service; nothing was stored. Choose another name.';
    default:
      return 'The connection could not be completed; nothing was stored. Try again.';
  }
}

/** Leaving for the provider's page (an object, so tests can watch it). */
export const browser = {
  go(url: string) {
    window.location.assign(url);
  },
};

/**
 * Starts an OAuth connection (a new account, or a reconnect of `reconnect`) and sends the
 * browser to the provider's consent page. Answers the failure's description, if any.
 */
export function useStartOAuth() {
  const [{ fetching }, start] = useMutation(StartOAuthConnectionMutation);
  const [error, setError] = useState<string | null>(null);
  async function connect(service: string, options: { name?: string; reconnect?: string } = {}) {
    setError(null);
    const result = await start({
      service,
      name: options.name?.trim() || null,
      reconnect: options.reconnect ?? null,
    });
    const failure = apiFailure(result.error);
    const url = result.data?.startOAuthConnection.authorizationUrl;
    if (failure || !url) {
      setError(failure ? describeFailure(failure) : 'The connection could not be started.');
      return;
    }
    browser.go(url);
  }
  return { connect, starting: fetching, error };
}
