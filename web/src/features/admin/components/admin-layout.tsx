import { NavLink, Outlet } from 'react-router-dom';
import { PageHeader } from '@/components/page-header';
import { useSession } from '@/lib/session';
import { cn } from '@/lib/utils';
import { useDocumentTitle } from '@/lib/use-document-title';

// A member holding credentials.view_all sees the one tab they may open (the API answers them
// `allCredentials`, not `users` or `systemMetrics`).
const TABS = [
  { to: 'users', label: 'Users', adminOnly: true },
  { to: 'credentials', label: 'All credentials', adminOnly: false },
  { to: 'metrics', label: 'System metrics', adminOnly: true },
];

export function AdminLayout() {
  const { isAdmin } = useSession();
  useDocumentTitle('Administration');
  return (
    <div className="space-y-6">
      <PageHeader
        title="Administration"
        description={
          isAdmin
            ? "People, everyone's credential metadata, and the system's health."
            : "Everyone's credential metadata, which your permission View all lets you see."
        }
      />
      <nav aria-label="Administration" className="-mx-1 flex gap-1 overflow-x-auto border-b px-1">
        {TABS.filter((tab) => isAdmin || !tab.adminOnly).map((tab) => (
          <NavLink
            key={tab.to}
            to={tab.to}
            className={({ isActive }) =>
              cn(
                '-mb-px whitespace-nowrap border-b-2 px-3 py-2 text-sm font-medium focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring',
                isActive
                  ? 'border-primary text-foreground'
                  : 'border-transparent text-muted-foreground hover:text-foreground',
              )
            }
          >
            {tab.label}
          </NavLink>
        ))}
      </nav>
      <Outlet />
    </div>
  );
}
