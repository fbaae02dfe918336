import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { mockClient } from '@/test/mock-client';
import { renderWithClient, testSession } from '@/test/render';
import { MetricsPanel } from './metrics-panel';

const counts = {
  total: 1,
  active: 1,
  inactive: 0,
  invalid: 0,
  expired: 0,
  revoked: 0,
  pendingSync: 0,
  syncErrors: 1,
};

describe('MetricsPanel', () => {
  it('names the credential and the MCP server of a failed sync, without OS error numbers', async () => {
    const { client, calls } = mockClient({
      AdminRetrySync: () => ({ data: { retrySync: 1 } }),
      AdminSystemMetrics: () => ({
        data: {
          allCredentials: [{ __typename: 'Credential', id: 'c1', name: 'Acme workspace' }],
          services: [{ __typename: 'Service', key: 'notion', displayName: 'Notion' }],
          systemMetrics: {
            __typename: 'SystemMetrics',
            users: 1,
            servicesConnected: 1,
            totals: { __typename: 'StatusCounts', ...counts },
            byService: [],
            recentValidations: [],
            expiringSoon: 0,
            expiringCredentials: [],
            failedSyncs: [
              {
                __typename: 'AuditEvent',
                position: 7,
                occurredAt: new Date(Date.now() - 60_000).toISOString(),
                action: 'CredentialSyncFailed',
                userId: 'ada',
                service: 'notion',
                credentialId: 'c1',
                error: 'could not connect (Connection refused (os error 111))',
                context: { target: 'gw' },
              },
            ],
          },
        },
      }),
    });
    renderWithClient(<MetricsPanel />, client, { session: { ...testSession, isAdmin: true } });
    const row = await screen.findByTestId('failed-sync');
    expect(row).toHaveTextContent('Acme workspace (Notion, ada) → MCP server gw');
    expect(row).toHaveTextContent('could not connect (Connection refused)');
    expect(row).not.toHaveTextContent('os error');
    await userEvent.setup().click(within(row).getByRole('button', { name: 'Retry Acme workspace' }));
    await waitFor(() =>
      expect(calls.find((c) => c.name === 'AdminRetrySync')?.variables).toEqual({ id: 'c1' }),
    );
  });
});
