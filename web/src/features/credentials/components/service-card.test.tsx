import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { makeFragmentData } from '@/gql';
import type {
  CredentialCard_CredentialFragment as CardData,
  CredentialStatus,
  ServiceCard_ServiceFragment as ServiceData,
} from '@/gql/graphql';
import { mockClient } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { CredentialCardFragment } from './credential-card';
import { ServiceCard, ServiceCardFragment } from './service-card';

function service(multiAccount: boolean) {
  const data: ServiceData = {
    __typename: 'Service',
    key: 'openai',
    displayName: 'OpenAI',
    description: 'GPT models',
    icon: 'openai',
    authType: 'API_KEY',
    multiAccount,
    beta: false,
    oauthAvailable: false,
    oauthProvider: null,
    oauthScopes: [],
    fields: [
      {
        __typename: 'ServiceField',
        name: 'api_key',
        label: 'API key',
        required: true,
        secret: true,
        format: null,
      },
    ],
  };
  return makeFragmentData(data, ServiceCardFragment);
}

function credential(status: CredentialStatus) {
  const data: CardData = {
    __typename: 'Credential',
    id: 'cred-1',
    owner: 'ada',
    service: 'openai',
    name: 'Main key',
    status,
    isPrimary: status === 'ACTIVE',
    account: null,
    metadata: {},
    lastValidatedAt: null,
    validationError: null,
    lastUsedAt: null,
    useCount: 0,
    tokenExpiresAt: null,
    scopes: [],
    syncStatus: 'SYNCED',
    lastSyncedAt: null,
    syncError: null,
  };
  return { id: 'cred-1', status, ref: makeFragmentData(data, CredentialCardFragment) };
}

function setup(multiAccount: boolean, status: CredentialStatus) {
  const onAdd = vi.fn();
  const { client } = mockClient({});
  const { unmount } = renderWithClient(
    <ServiceCard service={service(multiAccount)} credentials={[credential(status)]} onAdd={onAdd} />,
    client,
  );
  return { onAdd, unmount, user: userEvent.setup() };
}

describe('ServiceCard', () => {
  it('offers "Connect new" on a single-account service whose credential is revoked', async () => {
    const { onAdd, user } = setup(false, 'REVOKED');
    await user.click(screen.getByRole('button', { name: 'Connect new OpenAI credential' }));
    expect(onAdd).toHaveBeenCalledWith('openai');
  });

  it('offers no second credential on a single-account service while one is not revoked', () => {
    for (const status of ['ACTIVE', 'INVALID', 'EXPIRED'] as const) {
      const { unmount } = setup(false, status);
      expect(screen.queryByRole('button', { name: /connect new/i })).not.toBeInTheDocument();
      expect(screen.queryByRole('button', { name: /add another/i })).not.toBeInTheDocument();
      unmount();
    }
  });

  it('offers another account on a multi-account service', () => {
    setup(true, 'REVOKED');
    expect(screen.getByRole('button', { name: /add another account/i })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /connect new/i })).not.toBeInTheDocument();
  });
});
