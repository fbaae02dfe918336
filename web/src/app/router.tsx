import { lazy, Suspense, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { ErrorState, LoadingState } from '@/components/page-state';
import { CredentialsPage } from '@/features/credentials/components/credentials-page';
import { useSession, type Session } from '@/lib/session';
import { SignedInLayout } from './signed-in-layout';

// The credentials page is the landing page and ships in the main bundle; the others load on
// first visit.
const AuditPage = lazy(() =>
  import('@/features/audit/components/audit-page').then((m) => ({ default: m.AuditPage })),
);
const AccountPage = lazy(() =>
  import('@/features/account/components/account-page').then((m) => ({ default: m.AccountPage })),
);
const AdminLayout = lazy(() =>
  import('@/features/admin/components/admin-layout').then((m) => ({ default: m.AdminLayout })),
);
const UsersPanel = lazy(() =>
  import('@/features/admin/components/users-panel').then((m) => ({ default: m.UsersPanel })),
);
const AllCredentialsPanel = lazy(() =>
  import('@/features/admin/components/all-credentials-panel').then((m) => ({
    default: m.AllCredentialsPanel,
  })),
);
const MetricsPanel = lazy(() =>
  import('@/features/admin/components/metrics-panel').then((m) => ({ default: m.MetricsPanel })),
);

function Page({ children }: { children: ReactNode }) {
  return <Suspense fallback={<LoadingState />}>{children}</Suspense>;
}

/** A page only some may open: the API refuses the others its data anyway. */
function Only({ allow, children }: { allow: (session: Session) => boolean; children: ReactNode }) {
  if (!allow(useSession())) {
    return <ErrorState title="Administrators only" message="Your account cannot open this page." />;
  }
  return <Page>{children}</Page>;
}

const admins = (s: Session) => s.isAdmin;
// `allCredentials` answers administrators and holders of credentials.view_all.
const viewersOfAll = (s: Session) => s.canViewAllCredentials;

/** Administration's first page: Users for an administrator, else the one page a member may open. */
function AdminIndex() {
  const { isAdmin } = useSession();
  return <Navigate to={isAdmin ? 'users' : 'credentials'} replace />;
}

/** The landing page, keeping the query (the OAuth callback lands on `/?oauth=…`). */
function ToCredentials() {
  const { search } = useLocation();
  return <Navigate to={{ pathname: '/credentials', search }} replace />;
}

export function AppRouter() {
  return (
    <BrowserRouter>
      <Routes>
        <Route element={<SignedInLayout />}>
          <Route index element={<ToCredentials />} />
          <Route path="credentials" element={<CredentialsPage />} />
          <Route
            path="audit"
            element={
              <Page>
                <AuditPage />
              </Page>
            }
          />
          <Route
            path="account"
            element={
              <Page>
                <AccountPage />
              </Page>
            }
          />
          <Route
            path="admin"
            element={
              <Only allow={viewersOfAll}>
                <AdminLayout />
              </Only>
            }
          >
            <Route index element={<AdminIndex />} />
            <Route
              path="users"
              element={
                <Only allow={admins}>
                  <UsersPanel />
                </Only>
              }
            />
            <Route
              path="credentials"
              element={
                <Only allow={viewersOfAll}>
                  <AllCredentialsPanel />
                </Only>
              }
            />
            <Route
              path="metrics"
              element={
                <Only allow={admins}>
                  <MetricsPanel />
                </Only>
              }
            />
          </Route>
          <Route
            path="*"
            element={<ErrorState title="Page not found" message="There is nothing at this address." />}
          />
        </Route>
      </Routes>
    </BrowserRouter>
  );
}
