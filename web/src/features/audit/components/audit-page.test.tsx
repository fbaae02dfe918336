import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { deferred, mockClient, type Answer } from '@/test/mock-client';
import { renderWithClient } from '@/test/render';
import { AuditPage } from './audit-page';

const CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

function node(position: number, action: string, actor: string, credentialId: string, context = {}) {
  return {
    __typename: 'AuditEvent',
    position,
    occurredAt: new Date(Date.now() - 120_000).toISOString(),
    action,
    actor,
    credentialId,
    service: 'notion',
    context,
    ip: '203.0.113.7',
    userAgent: actor === 'ada' ? CHROME : null,
    success: true,
    error: null,
  };
}

/** A page of the trail: erasures by ada at these positions, newest first. */
function page(positions: number[], hasNextPage: boolean, action = 'CredentialErased'): Answer {
  return {
    data: {
      services: [],
      credentials: [],
      auditTrail: {
        __typename: 'AuditConnection',
        edges: positions.map((p) => ({
          __typename: 'AuditEdge',
          cursor: String(p),
          node: node(p, action, 'ada', 'c1'),
        })),
        pageInfo: {
          __typename: 'PageInfo',
          hasNextPage,
          endCursor: positions.length ? String(positions[positions.length - 1]) : null,
        },
      },
    },
  };
}

const filterOf = (variables: Record<string, unknown>) => variables.filter as Record<string, string>;

describe('AuditPage', () => {
  it('reads as sentences with credential names and browsers, raw values behind Details', async () => {
    const { client } = mockClient({
      AuditPage: () => ({
        data: {
          services: [{ __typename: 'Service', key: 'notion', displayName: 'Notion' }],
          credentials: [{ __typename: 'Credential', id: 'c1', name: 'Work' }],
          auditTrail: {
            __typename: 'AuditConnection',
            edges: [
              {
                __typename: 'AuditEdge',
                cursor: '3',
                node: node(3, 'CredentialUsed', 'ada', 'c1', { purpose: 'reveal' }),
              },
              { __typename: 'AuditEdge', cursor: '2', node: node(2, 'CredentialErased', 'ada', 'c9') },
              {
                __typename: 'AuditEdge',
                cursor: '1',
                node: node(1, 'CredentialUsed', 'mcp:gw', 'c1', { tool: 'search' }),
              },
            ],
            pageInfo: { __typename: 'PageInfo', hasNextPage: false, endCursor: '1' },
          },
        },
      }),
    });
    renderWithClient(<AuditPage />, client);
    const sentences = await screen.findAllByTestId('audit-sentence');
    expect(sentences.map((s) => s.textContent)).toEqual([
      'You revealed the secret',
      'You erased it',
      'MCP server gw used it for search',
    ]);
    const rows = within(screen.getByTestId('audit-table')).getAllByRole('row').slice(1);
    expect(within(rows[0]).getByText('Work')).toBeInTheDocument();
    expect(within(rows[0]).getByText('Chrome on Linux')).toBeInTheDocument();
    expect(within(rows[0]).getByText('2 minutes ago')).toBeInTheDocument();
    expect(within(rows[1]).getByText('not in your list')).toBeInTheDocument();
    // Ids, addresses and user agents only in the disclosure: once in the row, and that inside it.
    const details = within(rows[0]).getByText('Details').closest('details') as HTMLElement;
    const times = (text: string | null, raw: string) => (text ?? '').split(raw).length - 1;
    for (const raw of ['203.0.113.7', CHROME, 'credential c1']) {
      expect(times(rows[0].textContent, raw)).toBe(1);
      expect(times(details.textContent, raw)).toBe(1);
    }
  });

  it('says why the events for new filters could not load, and shows none of the old filters’', async () => {
    const { client } = mockClient({
      AuditPage: (variables) =>
        (variables.filter as { action?: string }).action
          ? {
              data: undefined,
              errors: [{ message: 'Too many requests.', extensions: { code: 'RATE_LIMITED' } }],
            }
          : {
              data: {
                services: [],
                credentials: [],
                auditTrail: {
                  __typename: 'AuditConnection',
                  edges: [
                    { __typename: 'AuditEdge', cursor: '1', node: node(1, 'CredentialErased', 'ada', 'c1') },
                  ],
                  pageInfo: { __typename: 'PageInfo', hasNextPage: false, endCursor: '1' },
                },
              },
            },
    });
    renderWithClient(<AuditPage />, client);
    expect(await screen.findByText('You erased it')).toBeInTheDocument();
    await userEvent.setup().selectOptions(screen.getByLabelText('Action'), 'CredentialRevoked');
    expect(await screen.findByRole('alert')).toHaveTextContent('Too many requests.');
    expect(screen.queryByText('You erased it')).not.toBeInTheDocument();
    expect(screen.queryByTestId('audit-table')).not.toBeInTheDocument();
  });

  it('pages with the last cursor: Older after this page’s end, Newer back, a new filter from page 1', async () => {
    const { client, calls } = mockClient({
      AuditPage: (variables) => {
        if (filterOf(variables).action) return page([7], false, 'CredentialRevoked');
        if (variables.after === '41') return page([40, 39], true);
        if (variables.after === '39') return page([38], false);
        return page([42, 41], true);
      },
    });
    const user = userEvent.setup();
    const lastAfter = () => calls.filter((c) => c.name === 'AuditPage').at(-1)?.variables.after ?? null;
    const older = () => screen.getByRole('button', { name: /Older/ });
    const newer = () => screen.getByRole('button', { name: /Newer/ });
    renderWithClient(<AuditPage />, client);
    expect(await screen.findByText('position 42')).toBeInTheDocument();
    expect(lastAfter()).toBeNull();
    expect(newer()).toBeDisabled();

    await user.click(older());
    expect(await screen.findByText('position 40')).toBeInTheDocument();
    expect(lastAfter()).toBe('41');
    expect(screen.getByText('Page 2')).toBeInTheDocument();
    await user.click(older());
    expect(await screen.findByText('position 38')).toBeInTheDocument();
    expect(lastAfter()).toBe('39');
    expect(screen.getByText('Page 3')).toBeInTheDocument();
    expect(older()).toBeDisabled();

    await user.click(newer());
    expect(await screen.findByText('position 40')).toBeInTheDocument();
    expect(lastAfter()).toBe('41');
    expect(screen.getByText('Page 2')).toBeInTheDocument();
    await user.click(newer());
    expect(await screen.findByText('position 42')).toBeInTheDocument();
    expect(lastAfter()).toBeNull();
    expect(screen.getByText('Page 1')).toBeInTheDocument();

    await user.click(older());
    expect(await screen.findByText('position 40')).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText('Action'), 'CredentialRevoked');
    expect(await screen.findByText('position 7')).toBeInTheDocument();
    const last = calls.filter((c) => c.name === 'AuditPage').at(-1)?.variables;
    expect(last).toMatchObject({ filter: { action: 'CredentialRevoked' }, after: null });
    expect(screen.getByText('Page 1')).toBeInTheDocument();
    expect(newer()).toBeDisabled();
  });

  it('says nothing has happened when there are no events, and that none matches under filters', async () => {
    const { client } = mockClient({ AuditPage: () => page([], false) });
    renderWithClient(<AuditPage />, client);
    expect(await screen.findByText('Nothing has happened yet.')).toBeInTheDocument();
    await userEvent.setup().selectOptions(screen.getByLabelText('Action'), 'CredentialRevoked');
    expect(await screen.findByText('No event matches these filters.')).toBeInTheDocument();
    expect(screen.queryByText('Nothing has happened yet.')).not.toBeInTheDocument();
  });

  it('says a later page is empty as a later page, not that nothing has happened', async () => {
    const { client } = mockClient({
      AuditPage: (variables) =>
        variables.after === '41'
          ? page([], false)
          : filterOf(variables).action
            ? page([42, 41], true, 'CredentialRevoked')
            : page([42, 41], true),
    });
    const user = userEvent.setup();
    renderWithClient(<AuditPage />, client);
    expect(await screen.findByText('position 42')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: /Older/ }));
    expect(await screen.findByText('No older events.')).toBeInTheDocument();
    expect(screen.queryByText('Nothing has happened yet.')).not.toBeInTheDocument();

    await user.selectOptions(screen.getByLabelText('Action'), 'CredentialRevoked');
    expect(await screen.findByText('position 42')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: /Older/ }));
    expect(await screen.findByText('No older event matches these filters.')).toBeInTheDocument();
  });

  it('marks the last filter’s rows as loading while the new filter’s load, not as its answer', async () => {
    const revoked = deferred<Answer>();
    const { client } = mockClient({
      AuditPage: (variables) => (filterOf(variables).action ? revoked.promise : page([42, 41], false)),
    });
    renderWithClient(<AuditPage />, client);
    expect(await screen.findByText('position 42')).toBeInTheDocument();
    const table = screen.getByTestId('audit-table');
    expect(table).not.toHaveAttribute('aria-busy');
    expect(screen.queryByRole('status')).not.toBeInTheDocument();

    await userEvent.setup().selectOptions(screen.getByLabelText('Action'), 'CredentialRevoked');
    // The erasures are still there, but marked: busy, dimmed, and a note that says so.
    await waitFor(() => expect(screen.getByTestId('audit-table')).toHaveAttribute('aria-busy', 'true'));
    expect(screen.getByText('position 42')).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent('Loading…');
    expect(screen.getByTestId('audit-table').querySelector('tbody')).toHaveClass('opacity-50');

    revoked.resolve(page([7], false, 'CredentialRevoked'));
    expect(await screen.findByText('position 7')).toBeInTheDocument();
    expect(screen.queryByText('position 42')).not.toBeInTheDocument();
    expect(screen.getByTestId('audit-table')).not.toHaveAttribute('aria-busy');
    expect(screen.getByTestId('audit-table').querySelector('tbody')).not.toHaveClass('opacity-50');
    expect(screen.queryByRole('status')).not.toBeInTheDocument();
  });

  it('does not say the new filter matches nothing while its events load after an empty answer', async () => {
    const revoked = deferred<Answer>();
    const { client } = mockClient({
      AuditPage: (variables) => (filterOf(variables).action ? revoked.promise : page([], false)),
    });
    renderWithClient(<AuditPage />, client);
    expect(await screen.findByText('Nothing has happened yet.')).toBeInTheDocument();

    await userEvent.setup().selectOptions(screen.getByLabelText('Action'), 'CredentialRevoked');
    expect(await screen.findByRole('status')).toHaveTextContent('Loading the audit trail…');
    expect(screen.queryByText('No event matches these filters.')).not.toBeInTheDocument();
    expect(screen.queryByText('Nothing has happened yet.')).not.toBeInTheDocument();

    revoked.resolve(page([], false, 'CredentialRevoked'));
    expect(await screen.findByText('No event matches these filters.')).toBeInTheDocument();
    expect(screen.queryByRole('status')).not.toBeInTheDocument();
  });
});
