import { Plus } from 'lucide-react';
import { useState } from 'react';
import { useQuery } from 'urql';
import { EmptyState, ErrorState, LoadingState } from '@/components/page-state';
import { PageHeader } from '@/components/page-header';
import { Button } from '@/components/ui/button';
import { graphql } from '@/gql';
import { apiFailure } from '@/lib/errors';
import { credentialContext } from '../api/context';
import { AddCredentialDialog } from './add-credential-dialog';
import { ServiceCard } from './service-card';
import { StatsCards } from './stats-cards';
import { useDocumentTitle } from '@/lib/use-document-title';

const CredentialsPageQuery = graphql(`
  query CredentialsPage {
    dashboard {
      ...StatsCards_Dashboard
    }
    services {
      key
      enabled
      ...ServiceCard_Service
      ...AddCredentialDialog_Service
    }
    credentials {
      id
      service
      ...CredentialCard_Credential
    }
  }
`);

export function CredentialsPage() {
  useDocumentTitle('Credentials');
  const [{ data, fetching, error }, refetch] = useQuery({
    query: CredentialsPageQuery,
    context: credentialContext,
  });
  const [adding, setAdding] = useState<{ open: boolean; service: string | null }>({
    open: false,
    service: null,
  });

  const openAdd = (service: string | null) => setAdding({ open: true, service });

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
    const failure = apiFailure(error);
    return (
      <div className="space-y-6">
        {header}
        {fetching || !failure ? (
          <LoadingState label="Loading credentials…" />
        ) : (
          <ErrorState message={failure.message} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        )}
      </div>
    );
  }

  const services = data.services.filter((s) => s.enabled);
  const byService = new Map<string, typeof data.credentials>();
  for (const c of data.credentials) {
    const list = byService.get(c.service) ?? [];
    list.push(c);
    byService.set(c.service, list);
  }

  return (
    <div className="space-y-6">
      {header}
      <StatsCards dashboard={data.dashboard} />
      {services.length === 0 ? (
        <EmptyState
          title="No services are enabled"
          description="An administrator can enable services in the catalog."
        />
      ) : (
        <section aria-label="Services" className="grid items-start gap-4 md:grid-cols-2 xl:grid-cols-3">
          {services.map((service) => (
            <ServiceCard
              key={service.key}
              service={service}
              credentials={(byService.get(service.key) ?? []).map((c) => ({ id: c.id, ref: c }))}
              onAdd={openAdd}
            />
          ))}
        </section>
      )}
      <AddCredentialDialog
        open={adding.open}
        onOpenChange={(open) => setAdding((a) => ({ ...a, open }))}
        services={services}
        preselectedService={adding.service}
      />
    </div>
  );
}
