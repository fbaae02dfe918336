import { lazy, Suspense, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { ErrorState, LoadingState } from '@/components/page-state';
import { CredentialsPage } from '@/features/credentials/components/credentials-page';
import { useSession } from '@/lib/session';
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

function AdminOnly({ children }: { children: ReactNode }) {
  const { isAdmin } = useSession();
  if (!isAdmin) {
    return <ErrorState title="Administrators only" message="Your account cannot open this page." />;
  }
  return <Page>{children}</Page>;
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
              <AdminOnly>
                <AdminLayout />
              </AdminOnly>
            }
          >
            <Route index element={<Navigate to="users" replace />} />
            <Route
              path="users"
              element={
                <Page>
                  <UsersPanel />
                </Page>
              }
            />
            <Route
              path="credentials"
              element={
                <Page>
                  <AllCredentialsPanel />
                </Page>
              }
            />
            <Route
              path="metrics"
              element={
                <Page>
                  <MetricsPanel />
                </Page>
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
