import { KeyRound, LogOut } from 'lucide-react';
import { useState } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router-dom';
import { ConnectionBanner, LiveIndicator } from '@/components/connection-banner';
import { RouteErrorBoundary } from '@/components/route-error-boundary';
import { Button } from '@/components/ui/button';
import { Spinner } from '@/components/ui/spinner';
import { toast } from '@/components/ui/use-toast';
import { useCredentialChanges } from '@/features/credentials/hooks/use-credential-changes';
import { useSession } from '@/lib/session';
import { cn } from '@/lib/utils';

export function SignedInLayout() {
  const session = useSession();
  const [leaving, setLeaving] = useState(false);
  const location = useLocation();
  // Live status for every page: events refetch whatever credential data is on screen.
  useCredentialChanges();

  const links = [
    { to: '/credentials', label: 'Credentials' },
    { to: '/audit', label: 'Audit' },
    { to: '/account', label: 'Account' },
    // A member holding credentials.view_all opens Admin's one page they may: All credentials.
    ...(session.isAdmin
      ? [{ to: '/admin', label: 'Admin' }]
      : session.canViewAllCredentials
        ? [{ to: '/admin/credentials', label: 'All credentials' }]
        : []),
  ];

  return (
    <div className="min-h-screen">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:fixed focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-background focus:px-3 focus:py-2 focus:shadow"
      >
        Skip to content
      </a>
      <header className="border-b bg-background">
        <div className="container flex flex-wrap items-center gap-x-6 gap-y-2 py-3">
          <NavLink to="/credentials" className="flex items-center gap-2 font-semibold">
            <span className="flex h-7 w-7 items-center justify-center rounded bg-primary text-primary-foreground">
              <KeyRound className="h-4 w-4" aria-hidden="true" />
            </span>
            credledger
          </NavLink>
          <nav
            aria-label="Main"
            className="order-last -mx-2 flex w-full gap-1 overflow-x-auto md:order-none md:mx-0 md:w-auto"
          >
            {links.map((link) => (
              <NavLink
                key={link.to}
                to={link.to}
                className={({ isActive }) =>
                  cn(
                    'whitespace-nowrap rounded-md px-3 py-1.5 text-sm font-medium transition-colors focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring',
                    isActive ? 'bg-secondary text-foreground' : 'text-muted-foreground hover:text-foreground',
                  )
                }
              >
                {link.label}
              </NavLink>
            ))}
          </nav>
          <div className="ml-auto flex items-center gap-3">
            <LiveIndicator />
            <span className="max-w-[10rem] truncate text-sm" title={session.email} data-testid="user-name">
              {session.displayName}
            </span>
            <Button
              variant="outline"
              size="sm"
              disabled={leaving}
              onClick={async () => {
                setLeaving(true);
                const failed = await session.signOut();
                if (failed) {
                  setLeaving(false);
                  toast({
                    title: 'You are still signed in',
                    description: `Signing out did not reach the server: ${failed} Try again.`,
                    variant: 'destructive',
                  });
                }
              }}
            >
              {leaving ? <Spinner /> : <LogOut aria-hidden="true" />}
              Sign out
            </Button>
          </div>
        </div>
      </header>
      <ConnectionBanner />
      <main id="main" className="container py-6" tabIndex={-1}>
        <RouteErrorBoundary resetKey={location.pathname}>
          <Outlet />
        </RouteErrorBoundary>
      </main>
    </div>
  );
}
