import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { mockClient } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { CredentialHistoryDialog, HISTORY_SHOWN, summary } from './credential-history-dialog';

describe('history summary', () => {
  it('shows what changed, not the bookkeeping', () => {
    expect(
      summary({
        old: { name: 'Work', status: 'active' },
        new: { name: 'Office', status: 'active' },
        context: { event_version: 1, sequence: 4, success: true, reason: 'moved desks' },
      }),
    ).toBe('name: Work → Office · reason: moved desks');
  });

  it('lists new facts of a registration', () => {
    expect(summary({ new: { name: 'Work', secret_version: 1 } })).toBe('name: Work · secret_version: 1');
  });
});

describe('CredentialHistoryDialog', () => {
  const CHROME =
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
  const event = (position: number, type: string, actor: string, payload: Record<string, unknown>) => ({
    __typename: 'HistoryEvent',
    position,
    type,
    occurredAt: new Date(Date.now() - (10 - position) * 60_000).toISOString(),
    actor,
    ip: '203.0.113.7',
    userAgent: actor === 'ada' ? CHROME : null,
    requestId: `r${position}`,
    payload,
    hash: `h${position}`,
  });

  it('reads as sentences, newest first, with the browser and the raw values behind Details', async () => {
    const { client } = mockClient({
      CredentialHistory: () => ({
        data: {
          credentialHistory: [
            event(1, 'CredentialRegistered', 'ada', { new: { name: 'Work' } }),
            event(2, 'CredentialValidated', 'scheduler', {}),
            event(3, 'CredentialUsed', 'ada', { context: { purpose: 'reveal' } }),
          ],
        },
      }),
    });
    renderWithClient(
      <CredentialHistoryDialog open onOpenChange={() => {}} credentialId="c1" name="Work" />,
      client,
    );
    const sentences = await screen.findAllByTestId('event-sentence');
    expect(sentences.map((s) => s.textContent)).toEqual([
      'You revealed the secret',
      'The scheduler checked it: valid',
      'You added it',
    ]);
    expect(screen.getAllByText('from Chrome on Linux')).toHaveLength(2);
    const first = screen.getAllByRole('listitem')[0];
    const details = within(first).getByText('Details').closest('details');
    expect(details).not.toHaveAttribute('open');
    expect(within(details as HTMLElement).getByText(/203\.0\.113\.7/)).toBeInTheDocument();
    expect(within(details as HTMLElement).getByText(CHROME)).toBeInTheDocument();
    expect(screen.queryByText(/the audit page has the ones before them/)).not.toBeInTheDocument();
  });

  it('asks for the newest events only, and says where the older ones are', async () => {
    let asked: Record<string, unknown> | undefined;
    const { client } = mockClient({
      CredentialHistory: (variables) => {
        asked = variables;
        return {
          data: {
            credentialHistory: Array.from({ length: HISTORY_SHOWN }, (_, i) =>
              event(i + 1, 'CredentialUsed', 'ada', { context: { purpose: 'reveal' } }),
            ),
          },
        };
      },
    });
    renderWithClient(
      <CredentialHistoryDialog open onOpenChange={() => {}} credentialId="c1" name="Work" />,
      client,
    );
    expect(await screen.findByText(/the audit page has the ones before them/)).toBeInTheDocument();
    expect(asked).toEqual({ id: 'c1', last: HISTORY_SHOWN });
  });
});
