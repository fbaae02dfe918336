import { Plus } from 'lucide-react';
import { useState } from 'react';
import { useQuery } from 'urql';
import { EmptyState, ErrorState, RefreshFailed, SkeletonState } from '@/components/page-state';
import { PageHeader } from '@/components/page-header';
import { Button } from '@/components/ui/button';
import { graphql } from '@/gql';
import { apiFailure } from '@/lib/errors';
import { attentionReasons } from '../api/attention';
import { credentialContext } from '../api/context';
import { AddCredentialDialog } from './add-credential-dialog';
import { CredentialCard } from './credential-card';
import { OAuthResult } from './oauth-result';
import { ServiceCard } from './service-card';
import { StatsCards } from './stats-cards';
import { useDocumentTitle } from '@/lib/use-document-title';
import { useLastData, useRefetchOnRecovery } from '@/lib/use-last-data';

export const CredentialsPageQuery = graphql(`
  query CredentialsPage {
    dashboard {
      ...StatsCards_Dashboard
    }
    services {
      key
      displayName
      enabled
      oauthAvailable
      ...ServiceCard_Service
      ...AddCredentialDialog_Service
    }
    credentials {
      id
      service
      name
      account {
        email
      }
      status
      validationError
      tokenExpiresAt
      syncStatus
      syncError
      ...CredentialCard_Credential
    }
  }
`);

export function CredentialsPage() {
  useDocumentTitle('Credentials');
  const [{ data: fresh, fetching, error }, refetch] = useQuery({
    query: CredentialsPageQuery,
    context: credentialContext,
  });
  const data = useLastData(fresh);
  useRefetchOnRecovery(refetch);
  const [adding, setAdding] = useState<{ open: boolean; service: string | null }>({
    open: false,
    service: null,
  });

  const [onlyAttention, setOnlyAttention] = useState(false);
  const openAdd = (service: string | null) => setAdding({ open: true, service });
  const failure = apiFailure(error);
  const retry = () => refetch({ requestPolicy: 'network-only' });

  const header = (
    <PageHeader
      title="Credentials"
      description="Your API keys and tokens for the services your MCP servers use."
      actions={
        <Button onClick={() => openAdd(null)} disabled={!data}>
          <Plus aria-hidden="true" />
          Add credential
        </Button>
      }
    />
  );

  if (!data) {
    return (
      <div className="space-y-6">
        {header}
        {fetching || !failure ? (
          <SkeletonState label="Loading credentials…" />
        ) : (
          <ErrorState message={failure.message} onRetry={retry} />
        )}
      </div>
    );
  }

  const enabled = data.services.filter((s) => s.enabled);
  const offered = new Set(enabled.map((s) => s.key));
  // The server renews the tokens of enabled services only.
  const renewing = new Set(enabled.filter((s) => s.oauthAvailable).map((s) => s.key));
  const needing = new Set(
    data.credentials
      .filter((c) => attentionReasons({ ...c, renews: renewing.has(c.service) }).length > 0)
      .map((c) => c.id),
  );
  // Off once nothing needs attention: the next credential that does must not filter the page
  // without the person asking.
  if (onlyAttention && needing.size === 0) setOnlyAttention(false);
  const filtering = onlyAttention && needing.size > 0;
  const shown = filtering ? data.credentials.filter((c) => needing.has(c.id)) : data.credentials;
  const services = filtering ? enabled.filter((s) => shown.some((c) => c.service === s.key)) : enabled;
  // Credentials of a service disabled in or gone from the catalog: drawn apart, with what the
  // server still allows for them (revoke, delete, reveal, rename), so they can be cleared away.
  const retired = shown.filter((c) => !offered.has(c.service));
  const serviceName = (key: string) => data.services.find((s) => s.key === key)?.displayName ?? key;
  const byService = new Map<string, typeof data.credentials>();
  for (const c of shown) {
    const list = byService.get(c.service) ?? [];
    list.push(c);
    byService.set(c.service, list);
  }

  return (
    <div className="space-y-6">
      {header}
      {/* A refetch that failed: the last answer stays on screen, and its open dialogs with it. */}
      <RefreshFailed data={data} failure={failure} fetching={fetching} refetch={refetch} />
      <OAuthResult credentials={data.credentials} />
      <StatsCards
        dashboard={data.dashboard}
        attention={needing.size}
        filtering={filtering}
        onToggleAttention={() => setOnlyAttention((v) => !v)}
      />
      {enabled.length === 0 ? (
        <EmptyState
          title="No services are enabled"
          description="An administrator can enable services in the catalog."
        />
      ) : (
        services.length > 0 && (
          <section aria-label="Services" className="grid gap-4 md:grid-cols-2 xl:grid-cols-3">
            {services.map((service) => (
              <ServiceCard
                key={service.key}
                service={service}
                credentials={(byService.get(service.key) ?? []).map((c) => ({
                  id: c.id,
                  status: c.status,
                  ref: c,
                }))}
                onAdd={openAdd}
              />
            ))}
          </section>
        )
      )}
      {retired.length > 0 && (
        <section aria-labelledby="services-no-longer-offered" className="space-y-2">
          <h2 id="services-no-longer-offered" className="text-lg font-semibold">
            Services no longer offered
          </h2>
          <p className="text-sm text-muted-foreground">
            These services were disabled in the catalog. Their credentials can still be revoked or deleted,
            but not checked or given a new secret.
          </p>
          <div className="grid gap-4 md:grid-cols-2 xl:grid-cols-3">
            {retired.map((c) => (
              <CredentialCard
                key={c.id}
                credential={c}
                serviceName={serviceName(c.service)}
                fields={[]}
                offered={false}
              />
            ))}
          </div>
        </section>
      )}
      <AddCredentialDialog
        open={adding.open}
        onOpenChange={(open) => setAdding((a) => ({ ...a, open }))}
        // Every service a credential can be added to, whatever the page is filtered to.
        services={enabled}
        preselectedService={adding.service}
        takenNames={(service) => data.credentials.filter((c) => c.service === service).map((c) => c.name)}
      />
    </div>
  );
}
