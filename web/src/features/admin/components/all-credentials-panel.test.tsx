import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AdminAllCredentialsQuery } from '@/gql/graphql';
import { deferred, mockClient, type Answer, type Responder } from '@/test/mock-client';
import { renderWithClient, testSession } from '@/test/render';
import { AllCredentialsPanel, OWNER_DEBOUNCE_MS, PAGE } from './all-credentials-panel';

type Row = AdminAllCredentialsQuery['allCredentials'][number];

const services = [
  { __typename: 'Service', key: 'notion', displayName: 'Notion' },
  { __typename: 'Service', key: 'jira', displayName: 'Jira' },
];

function credential(overrides: Partial<Row> = {}): Row {
  return {
    __typename: 'Credential',
    id: 'c1',
    owner: 'ada',
    service: 'notion',
    name: 'Work',
    status: 'ACTIVE',
    isPrimary: true,
    account: { __typename: 'AccountIdentity', id: 'ws-1', displayName: 'Acme HQ', email: 'ada@acme.example' },
    lastValidatedAt: new Date(Date.now() - 5 * 60_000).toISOString(),
    lastUsedAt: null,
    useCount: 0,
    syncStatus: 'SYNCED',
    createdAt: '2026-10-01T08:00:00Z',
    ...overrides,
  };
}

const answer = (rows: Row[]): Answer => ({ data: { services, allCredentials: rows } });

function setup(responders: Record<string, Responder>) {
  const { client, calls } = mockClient(responders);
  renderWithClient(<AllCredentialsPanel />, client, { session: { ...testSession, isAdmin: true } });
  const panel = screen.getByRole('region', { name: 'All credentials' });
  return { user: userEvent.setup(), calls, panel };
}

const queried = (calls: { name: string; variables: Record<string, unknown> }[]) =>
  calls.filter((c) => c.name === 'AdminAllCredentials').map((c) => c.variables);

describe('AllCredentialsPanel', () => {
  it('shows a loading state, then everyone’s credentials in words, with no way to reveal a secret', async () => {
    const held = deferred<Answer>();
    const { panel, calls } = setup({ AdminAllCredentials: () => held.promise });
    expect(within(panel).getByRole('status')).toHaveTextContent('Loading credentials…');
    expect(queried(calls)[0]).toEqual({
      userId: null,
      service: null,
      status: null,
      first: PAGE + 1,
      after: null,
    });

    held.resolve(
      answer([
        credential(),
        credential({
          id: 'c2',
          owner: 'grace',
          service: 'jira',
          name: 'Ops',
          status: 'INVALID',
          isPrimary: false,
          account: null,
          lastValidatedAt: null,
          lastUsedAt: new Date(Date.now() - 2 * 3600_000).toISOString(),
          useCount: 14,
          syncStatus: 'ERROR',
        }),
        credential({ id: 'c3', service: 'gitlab', name: 'Lab', syncStatus: null, status: 'REVOKED' }),
      ]),
    );
    const table = await within(panel).findByRole('table', { name: 'All credentials' });
    expect(within(panel).queryByRole('status')).not.toBeInTheDocument();
    const cells = within(table)
      .getAllByRole('row')
      .slice(1)
      .map((r) =>
        within(r)
          .getAllByRole('cell')
          .map((c) => c.textContent),
      );
    expect(cells).toEqual([
      [
        'ada',
        'Notion',
        'Work',
        'Status: Active',
        'Acme HQ · ada@acme.example',
        '5 minutes ago',
        'Never (0)',
        'Synced',
      ],
      ['grace', 'Jira', 'Ops', 'Status: Invalid', '—', 'Never', '2 hours ago (14)', 'Sync failed'],
      [
        'ada',
        'gitlab',
        'Lab',
        'Status: Revoked',
        'Acme HQ · ada@acme.example',
        '5 minutes ago',
        'Never (0)',
        'Not synced',
      ],
    ]);
    const [work, ops] = within(table).getAllByRole('row').slice(1);
    // An image named Primary, which a screen reader announces (an svg's aria-label alone is not).
    expect(within(work).getByRole('img', { name: 'Primary' })).toBeInTheDocument();
    expect(within(ops).queryByRole('img', { name: 'Primary' })).not.toBeInTheDocument();
    expect(within(panel).queryByRole('button')).not.toBeInTheDocument();
    expect(screen.queryByText(/reveal/i)).not.toBeInTheDocument();
  });

  it('asks the server again for each filter, the owner trimmed', async () => {
    const { user, calls, panel } = setup({
      AdminAllCredentials: () => answer([credential()]),
    });
    await within(panel).findByRole('table', { name: 'All credentials' });
    const service = within(panel).getByLabelText('Service');
    expect(
      within(service)
        .getAllByRole('option')
        .map((o) => o.textContent),
    ).toEqual(['All services', 'Notion', 'Jira']);

    await user.selectOptions(service, 'jira');
    await user.selectOptions(within(panel).getByLabelText('Status'), 'Expired');
    await user.type(within(panel).getByLabelText('Owner (user id)'), ' grace ');
    await waitFor(() =>
      expect(queried(calls).at(-1)).toEqual({
        userId: 'grace',
        service: 'jira',
        status: 'EXPIRED',
        first: PAGE + 1,
        after: null,
      }),
    );
    const first = { first: PAGE + 1, after: null };
    expect(queried(calls)).toContainEqual({ userId: null, service: 'jira', status: null, ...first });
    expect(queried(calls)).toContainEqual({ userId: null, service: 'jira', status: 'EXPIRED', ...first });
  });

  it('says when no credential matches the filters', async () => {
    const { user, panel } = setup({
      AdminAllCredentials: (v) => answer(v.status === 'REVOKED' ? [] : [credential()]),
    });
    await within(panel).findByRole('table', { name: 'All credentials' });
    await user.selectOptions(within(panel).getByLabelText('Status'), 'REVOKED');
    expect(await within(panel).findByText('No credentials')).toBeInTheDocument();
    expect(within(panel).getByText('No credential matches these filters.')).toBeInTheDocument();
    expect(within(panel).queryByRole('table')).not.toBeInTheDocument();
  });

  it('says why the list could not load, and asks again on request', async () => {
    let refused = true;
    const { user, panel } = setup({
      AdminAllCredentials: () =>
        refused
          ? { errors: [{ message: 'You are not allowed to do this.', extensions: { code: 'FORBIDDEN' } }] }
          : answer([credential()]),
    });
    const alert = await within(panel).findByRole('alert');
    expect(alert).toHaveTextContent('Could not load this page');
    expect(alert).toHaveTextContent('You are not allowed to do this.');
    refused = false;
    await user.click(within(alert).getByRole('button', { name: 'Try again' }));
    expect(await within(panel).findByRole('table', { name: 'All credentials' })).toHaveTextContent('Work');
    expect(within(panel).queryByRole('alert')).not.toBeInTheDocument();
  });
  it('goes through everyone’s credentials a page at a time, each after the last one shown', async () => {
    const page = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => credential({ id: `c${from + i}`, name: `Cred ${from + i}` }));
    const { user, calls, panel } = setup({
      // One more than a page: there is a next page, and that one is not shown on this one.
      AdminAllCredentials: (variables) =>
        answer(variables.after === null ? page(0, PAGE + 1) : page(PAGE, 3)),
    });
    await within(panel).findByText('Cred 0');
    expect(within(panel).getByText(`Cred ${PAGE - 1}`)).toBeInTheDocument();
    expect(within(panel).queryByText(`Cred ${PAGE}`)).not.toBeInTheDocument();
    expect(within(panel).getByRole('button', { name: 'Previous' })).toBeDisabled();
    await user.click(within(panel).getByRole('button', { name: 'Next' }));
    await within(panel).findByText(`Cred ${PAGE}`);
    expect(queried(calls).at(-1)).toMatchObject({ first: PAGE + 1, after: `c${PAGE - 1}` });
    expect(within(panel).getByText('Page 2')).toBeInTheDocument();
    expect(within(panel).getByRole('button', { name: 'Next' })).toBeDisabled();
    await user.click(within(panel).getByRole('button', { name: 'Previous' }));
    await within(panel).findByText('Cred 0');
    expect(queried(calls).at(-1)).toMatchObject({ after: null });
  });

  it.each<[string, Answer, string]>([
    [
      'a field error',
      {
        errors: [
          {
            message: '`after` names no credential (erased since?): start again',
            extensions: { code: 'VALIDATION' },
          },
        ],
      },
      '`after` names no credential (erased since?): start again',
    ],
    [
      'rate limited, no data',
      {
        data: undefined,
        errors: [{ message: 'Too many requests.', extensions: { code: 'RATE_LIMITED' } }],
      },
      'Too many requests.',
    ],
  ])(
    'says why a page was refused (%s), with no row of the page before as its answer',
    async (_, refusal, said) => {
      const page = Array.from({ length: PAGE + 1 }, (_, i) => credential({ id: `c${i}`, name: `Cred ${i}` }));
      const { user, panel } = setup({
        AdminAllCredentials: (variables) => (variables.after === null ? answer(page) : refusal),
      });
      await within(panel).findByText('Cred 0');
      await user.click(within(panel).getByRole('button', { name: 'Next' }));
      expect(await within(panel).findByRole('alert')).toHaveTextContent(said);
      expect(within(panel).queryByText('Cred 0')).not.toBeInTheDocument();
      expect(within(panel).getByText('Page 2')).toBeInTheDocument();
      expect(within(panel).getByRole('button', { name: 'Next' })).toBeDisabled();
      // The way back is still there.
      await user.click(within(panel).getByRole('button', { name: 'Previous' }));
      expect(await within(panel).findByText('Cred 0')).toBeInTheDocument();
      expect(within(panel).queryByRole('alert')).not.toBeInTheDocument();
    },
  );

  it('marks the last filter’s rows as loading while the new filter’s load, not as its answer', async () => {
    const expired = deferred<Answer>();
    const { user, panel } = setup({
      AdminAllCredentials: (v) => (v.status === 'EXPIRED' ? expired.promise : answer([credential()])),
    });
    const table = await within(panel).findByRole('table', { name: 'All credentials' });
    expect(table).not.toHaveAttribute('aria-busy');
    expect(within(panel).queryByRole('status')).not.toBeInTheDocument();

    await user.selectOptions(within(panel).getByLabelText('Status'), 'EXPIRED');
    // The active credential is still there, but marked: busy, dimmed, and a note that says so.
    await waitFor(() =>
      expect(within(panel).getByTestId('all-credentials')).toHaveAttribute('aria-busy', 'true'),
    );
    expect(within(panel).getByText('Work')).toBeInTheDocument();
    expect(within(panel).getByRole('status')).toHaveTextContent('Loading…');
    expect(within(panel).getByTestId('all-credentials').querySelector('tbody')).toHaveClass('opacity-50');

    expired.resolve(answer([credential({ id: 'c9', name: 'Old', status: 'EXPIRED' })]));
    expect(await within(panel).findByText('Old')).toBeInTheDocument();
    expect(within(panel).queryByText('Work')).not.toBeInTheDocument();
    expect(within(panel).getByTestId('all-credentials')).not.toHaveAttribute('aria-busy');
    expect(within(panel).getByTestId('all-credentials').querySelector('tbody')).not.toHaveClass('opacity-50');
    expect(within(panel).queryByRole('status')).not.toBeInTheDocument();
  });

  it('marks the last page’s rows as loading while the next page’s load', async () => {
    const next = deferred<Answer>();
    const first = Array.from({ length: PAGE + 1 }, (_, i) => credential({ id: `c${i}`, name: `Cred ${i}` }));
    const { user, panel } = setup({
      AdminAllCredentials: (v) => (v.after === null ? answer(first) : next.promise),
    });
    await within(panel).findByText('Cred 0');
    await user.click(within(panel).getByRole('button', { name: 'Next' }));
    await waitFor(() =>
      expect(within(panel).getByTestId('all-credentials')).toHaveAttribute('aria-busy', 'true'),
    );
    expect(within(panel).getByText('Cred 0')).toBeInTheDocument();
    expect(within(panel).getByRole('status')).toHaveTextContent('Loading…');
    expect(within(panel).getByTestId('all-credentials').querySelector('tbody')).toHaveClass('opacity-50');

    next.resolve(answer([credential({ id: `c${PAGE}`, name: `Cred ${PAGE}` })]));
    expect(await within(panel).findByText(`Cred ${PAGE}`)).toBeInTheDocument();
    expect(within(panel).queryByText('Cred 0')).not.toBeInTheDocument();
    expect(within(panel).getByTestId('all-credentials')).not.toHaveAttribute('aria-busy');
    expect(within(panel).getByTestId('all-credentials').querySelector('tbody')).not.toHaveClass('opacity-50');
    expect(within(panel).queryByRole('status')).not.toBeInTheDocument();
  });

  it('does not say no credential matches while the new filter’s load after an empty answer', async () => {
    const jira = deferred<Answer>();
    const { user, panel } = setup({
      AdminAllCredentials: (v) => (v.service === 'jira' ? jira.promise : answer([])),
    });
    expect(await within(panel).findByText('No credentials')).toBeInTheDocument();

    await user.selectOptions(within(panel).getByLabelText('Service'), 'jira');
    expect(await within(panel).findByRole('status')).toHaveTextContent('Loading credentials…');
    expect(within(panel).queryByText('No credentials')).not.toBeInTheDocument();
    expect(within(panel).queryByText('No credential matches these filters.')).not.toBeInTheDocument();

    jira.resolve(answer([credential({ service: 'jira', name: 'Ops' })]));
    expect(await within(panel).findByText('Ops')).toBeInTheDocument();
    expect(within(panel).queryByRole('status')).not.toBeInTheDocument();
  });

  it('offers page 1 when a page was refused because the credential it starts after was erased', async () => {
    const page = Array.from({ length: PAGE + 1 }, (_, i) => credential({ id: `c${i}`, name: `Cred ${i}` }));
    const { user, calls, panel } = setup({
      AdminAllCredentials: (variables) =>
        variables.after === null
          ? answer(page)
          : {
              errors: [
                {
                  message: '`after` names no credential (erased since?): start again',
                  extensions: { code: 'VALIDATION' },
                },
              ],
            },
    });
    await within(panel).findByText('Cred 0');
    await user.click(within(panel).getByRole('button', { name: 'Next' }));
    const alert = await within(panel).findByRole('alert');
    expect(within(alert).queryByRole('button', { name: 'Try again' })).not.toBeInTheDocument();
    await user.click(within(alert).getByRole('button', { name: 'Back to page 1' }));
    expect(await within(panel).findByText('Cred 0')).toBeInTheDocument();
    expect(within(panel).queryByRole('alert')).not.toBeInTheDocument();
    expect(queried(calls).at(-1)).toMatchObject({ after: null });
    expect(within(panel).queryByText('Page 2')).not.toBeInTheDocument();
  });

  it('offers no next page when the last page is exactly full', async () => {
    const full = Array.from({ length: PAGE }, (_, i) => credential({ id: `c${i}`, name: `Cred ${i}` }));
    const { panel } = setup({ AdminAllCredentials: () => answer(full) });
    await within(panel).findByText(`Cred ${PAGE - 1}`);
    expect(within(panel).queryByRole('button', { name: 'Next' })).not.toBeInTheDocument();
    expect(within(panel).queryByRole('navigation', { name: 'Pages' })).not.toBeInTheDocument();
  });

  describe('the owner filter', () => {
    afterEach(() => vi.useRealTimers());

    it('asks once typing has paused, not at every keystroke', async () => {
      const { calls, panel } = setup({ AdminAllCredentials: () => answer([credential()]) });
      await within(panel).findByRole('table', { name: 'All credentials' });
      const before = queried(calls).length;
      // The clock stands still while the name is typed: no keystroke's wait can run out.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const field = within(panel).getByLabelText('Owner (user id)');
      for (const typed of ['g', 'gr', 'gra', 'grac', 'grace'])
        fireEvent.change(field, { target: { value: typed } });
      await act(() => vi.advanceTimersByTimeAsync(OWNER_DEBOUNCE_MS - 1));
      expect(queried(calls).slice(before)).toEqual([]);
      await act(() => vi.advanceTimersByTimeAsync(1));
      vi.useRealTimers();
      await waitFor(() => expect(queried(calls).slice(before)).not.toEqual([]));
      // Every query since asks for the whole id: none for 'g', 'gr', …
      const owners = queried(calls)
        .slice(before)
        .map((v) => v.userId);
      expect([...new Set(owners)]).toEqual(['grace']);
    });
  });
});
