import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { mockClient } from '@/test/mock-client';
import { renderWithClient, testSession } from '@/test/render';
import { MetricsPanel, usageTotals } from './metrics-panel';

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
            usageByService: [],
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
              {
                __typename: 'AuditEvent',
                position: 5,
                occurredAt: new Date(Date.now() - 120_000).toISOString(),
                action: 'CredentialSyncFailed',
                userId: 'ada',
                service: 'notion',
                credentialId: 'c0',
                error: 'refused',
                context: { target: 'gw' },
              },
            ],
            failedSyncCredentials: [
              { __typename: 'Credential', id: 'c1', name: 'Acme workspace', syncStatus: 'ERROR' },
            ],
          },
        },
      }),
    });
    renderWithClient(<MetricsPanel />, client, { session: { ...testSession, isAdmin: true } });
    const [row, erased] = await screen.findAllByTestId('failed-sync');
    expect(erased).toHaveTextContent('An erased credential (Notion, ada)');
    expect(within(erased).queryByRole('button')).toBeNull();
    expect(row).toHaveTextContent('Acme workspace (Notion, ada) → MCP server gw');
    expect(row).toHaveTextContent('could not connect (Connection refused)');
    expect(row).not.toHaveTextContent('os error');
    await userEvent.setup().click(within(row).getByRole('button', { name: 'Retry Acme workspace' }));
    await waitFor(() =>
      expect(calls.find((c) => c.name === 'AdminRetrySync')?.variables).toEqual({ id: 'c1' }),
    );
  });

  it('marks a failed sync whose credential has synced since as resolved, without Retry', async () => {
    const failed = (position: number, credentialId: string) => ({
      __typename: 'AuditEvent',
      position,
      occurredAt: new Date(Date.now() - position * 60_000).toISOString(),
      action: 'CredentialSyncFailed',
      userId: 'ada',
      service: 'notion',
      credentialId,
      error: 'could not reach the MCP server',
      context: { target: 'gw' },
    });
    const { client } = mockClient({
      AdminSystemMetrics: () => ({
        data: {
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
            usageByService: [],
            failedSyncs: [failed(1, 'c1'), failed(2, 'c2'), failed(3, 'c3')],
            failedSyncCredentials: [
              { __typename: 'Credential', id: 'c1', name: 'Synced since', syncStatus: 'SYNCED' },
              { __typename: 'Credential', id: 'c2', name: 'Still failing', syncStatus: 'ERROR' },
              { __typename: 'Credential', id: 'c3', name: 'Pending again', syncStatus: 'PENDING' },
            ],
          },
        },
      }),
    });
    renderWithClient(<MetricsPanel />, client, { session: { ...testSession, isAdmin: true } });
    const [synced, failing, pending] = await screen.findAllByTestId('failed-sync');
    expect(synced).toHaveTextContent('Resolved: Synced since');
    expect(within(synced).queryByRole('button')).toBeNull();
    expect(pending).toHaveTextContent('Resolved: Being sent again');
    expect(within(pending).queryByRole('button')).toBeNull();
    expect(failing).not.toHaveTextContent('Resolved');
    expect(within(failing).getByRole('button', { name: 'Retry Still failing' })).toBeEnabled();
  });

  it('totals uses per service for today, the week and the fortnight', async () => {
    const now = new Date();
    const day = (ago: number) => new Date(now.getTime() - ago * 86_400_000).toISOString().slice(0, 10);
    const usage = [
      { __typename: 'DailyServiceUses', service: 'jira', day: day(10), uses: 4 },
      { __typename: 'DailyServiceUses', service: 'notion', day: day(3), uses: 2 },
      { __typename: 'DailyServiceUses', service: 'jira', day: day(0), uses: 1 },
      { __typename: 'DailyServiceUses', service: 'notion', day: day(0), uses: 5 },
    ];
    expect(usageTotals(usage, now)).toEqual([
      { service: 'notion', today: 5, week: 7, fortnight: 7 },
      { service: 'jira', today: 1, week: 1, fortnight: 5 },
    ]);
    const { client } = mockClient({
      AdminSystemMetrics: () => ({
        data: {
          services: [
            { __typename: 'Service', key: 'notion', displayName: 'Notion' },
            { __typename: 'Service', key: 'jira', displayName: 'Jira' },
          ],
          systemMetrics: {
            __typename: 'SystemMetrics',
            users: 1,
            servicesConnected: 2,
            totals: { __typename: 'StatusCounts', ...counts },
            byService: [],
            recentValidations: [],
            expiringSoon: 0,
            expiringCredentials: [],
            usageByService: usage,
            failedSyncs: [],
            failedSyncCredentials: [],
          },
        },
      }),
    });
    renderWithClient(<MetricsPanel />, client, { session: { ...testSession, isAdmin: true } });
    const table = await screen.findByRole('table', { name: 'Uses by service' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.textContent)).toEqual(['Notion577', 'Jira115']);
  });
});
