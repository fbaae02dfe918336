import { NavLink, Outlet } from 'react-router-dom';
import { PageHeader } from '@/components/page-header';
import { cn } from '@/lib/utils';
import { useDocumentTitle } from '@/lib/use-document-title';

const TABS = [
  { to: 'users', label: 'Users' },
  { to: 'credentials', label: 'All credentials' },
  { to: 'metrics', label: 'System metrics' },
];

export function AdminLayout() {
  useDocumentTitle('Administration');
  return (
    <div className="space-y-6">
      <PageHeader
        title="Administration"
        description="People, everyone's credential metadata, and the system's health."
      />
      <nav aria-label="Administration" className="-mx-1 flex gap-1 overflow-x-auto border-b px-1">
        {TABS.map((tab) => (
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
