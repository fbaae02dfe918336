import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import { SessionContext, type Session } from '@/lib/session';
import { testSession } from '@/test/render';
import { AdminLayout } from './admin-layout';

const admin: Session = { ...testSession, isAdmin: true, canViewAllCredentials: true };

function show(url: string, session = admin) {
  render(
    <SessionContext.Provider value={session}>
      <MemoryRouter initialEntries={[url]}>
        <Routes>
          <Route path="admin" element={<AdminLayout />}>
            <Route path="users" element={<p>users panel</p>} />
            <Route path="credentials" element={<p>credentials panel</p>} />
            <Route path="metrics" element={<p>metrics panel</p>} />
          </Route>
        </Routes>
      </MemoryRouter>
    </SessionContext.Provider>,
  );
  return within(screen.getByRole('navigation', { name: 'Administration' }));
}

describe('AdminLayout', () => {
  it('offers the three tabs, marks the open one and shows its panel', () => {
    const nav = show('/admin/credentials');
    expect(screen.getByRole('heading', { name: 'Administration' })).toBeInTheDocument();
    expect(document.title).toBe('Administration · credledger');
    expect(nav.getAllByRole('link').map((l) => [l.textContent, l.getAttribute('href')])).toEqual([
      ['Users', '/admin/users'],
      ['All credentials', '/admin/credentials'],
      ['System metrics', '/admin/metrics'],
    ]);
    expect(nav.getByRole('link', { name: 'All credentials' })).toHaveAttribute('aria-current', 'page');
    expect(nav.getByRole('link', { name: 'Users' })).not.toHaveAttribute('aria-current');
    expect(screen.getByText('credentials panel')).toBeInTheDocument();
    expect(screen.queryByText('users panel')).not.toBeInTheDocument();
  });

  it('moves to another panel when its tab is chosen', async () => {
    const nav = show('/admin/users');
    expect(screen.getByText('users panel')).toBeInTheDocument();
    await userEvent.setup().click(nav.getByRole('link', { name: 'System metrics' }));
    expect(screen.getByText('metrics panel')).toBeInTheDocument();
    expect(screen.queryByText('users panel')).not.toBeInTheDocument();
    expect(nav.getByRole('link', { name: 'System metrics' })).toHaveAttribute('aria-current', 'page');
    expect(nav.getByRole('link', { name: 'Users' })).not.toHaveAttribute('aria-current');
  });

  it('offers a member holding View all only the All credentials tab', () => {
    const nav = show('/admin/credentials', { ...testSession, canViewAllCredentials: true });
    expect(nav.getAllByRole('link').map((l) => [l.textContent, l.getAttribute('href')])).toEqual([
      ['All credentials', '/admin/credentials'],
    ]);
    expect(screen.getByText('credentials panel')).toBeInTheDocument();
  });
});
