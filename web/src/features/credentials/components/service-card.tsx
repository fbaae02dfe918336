import { LogIn, Plus } from 'lucide-react';
import { Alert } from '@/components/ui/alert';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from '@/components/ui/card';
import { getFragmentData, graphql, type FragmentType } from '@/gql';
import type { CredentialStatus } from '@/gql/graphql';
import { authTypeLabel } from '@/lib/format';
import { providerName, scopesLabel, useStartOAuth } from '../api/oauth';
import { CredentialCard, type CredentialCardFragment } from './credential-card';
import { ServiceIcon } from './service-icon';

export const ServiceCardFragment = graphql(`
  fragment ServiceCard_Service on Service {
    key
    displayName
    description
    icon
    authType
    multiAccount
    beta
    oauthAvailable
    oauthProvider
    oauthScopes
    fields {
      name
      label
      required
      secret
      format
      placeholder
    }
  }
`);

export function ServiceCard({
  service: ref,
  credentials,
  onAdd,
}: {
  service: FragmentType<typeof ServiceCardFragment>;
  credentials: { id: string; status: CredentialStatus; ref: FragmentType<typeof CredentialCardFragment> }[];
  onAdd: (service: string) => void;
}) {
  const service = getFragmentData(ServiceCardFragment, ref);
  const headingId = `service-${service.key}`;
  const count = credentials.length;
  const oauth = useStartOAuth();
  const provider = providerName(service.oauthProvider);
  // Services connected with OAuth are added through the provider's consent page.
  const add = service.oauthAvailable ? () => void oauth.connect(service.key) : () => onAdd(service.key);
  // A single-account service takes a new credential once every one it holds is revoked.
  const allRevoked = count > 0 && credentials.every((c) => c.status === 'REVOKED');
  return (
    <Card
      aria-labelledby={headingId}
      role="region"
      data-testid={`service-${service.key}`}
      className="flex min-w-0 flex-col"
    >
      <CardHeader className="pb-3 sm:pb-3">
        <div className="flex items-start justify-between gap-2">
          <div className="flex min-w-0 items-center gap-3">
            <ServiceIcon icon={service.icon} name={service.displayName} />
            <div className="min-w-0">
              <CardTitle className="text-lg">
                <span id={headingId}>{service.displayName}</span>
                {service.beta && (
                  <Badge variant="outline" className="ml-2 align-middle">
                    Beta
                  </Badge>
                )}
              </CardTitle>
              <CardDescription className="text-xs">{authTypeLabel(service.authType)}</CardDescription>
            </div>
          </div>
          {count > 0 && (
            <Badge variant="secondary" aria-label={`${count} credential${count === 1 ? '' : 's'}`}>
              {count}
            </Badge>
          )}
        </div>
      </CardHeader>
      <CardContent className="flex flex-1 flex-col gap-2">
        <p className="text-sm text-muted-foreground">{service.description}</p>
        {service.oauthAvailable && service.oauthScopes.length > 0 && (
          <p className="text-xs text-muted-foreground" data-testid="oauth-scopes">
            Asks {provider} for: {scopesLabel(service.oauthScopes)}
          </p>
        )}
        {count > 0 ? (
          <>
            <div className="space-y-2">
              {credentials.map((c) => (
                <CredentialCard
                  key={c.id}
                  credential={c.ref}
                  serviceName={service.displayName}
                  fields={service.fields}
                  oauthProvider={service.oauthAvailable ? provider : null}
                />
              ))}
            </div>
            {!service.multiAccount && allRevoked && (
              <Button variant="outline" className="mt-auto w-full" onClick={add} disabled={oauth.starting}>
                {service.oauthAvailable ? <LogIn aria-hidden="true" /> : <Plus aria-hidden="true" />}
                Connect new
                <span className="sr-only"> {service.displayName} credential</span>
              </Button>
            )}
            {service.multiAccount && (
              <Button
                variant="ghost"
                size="sm"
                className="mt-auto w-full"
                onClick={add}
                disabled={oauth.starting}
              >
                {service.oauthAvailable ? <LogIn aria-hidden="true" /> : <Plus aria-hidden="true" />}
                {service.oauthAvailable ? `Connect another ${provider} account` : 'Add another account'}
                <span className="sr-only"> to {service.displayName}</span>
              </Button>
            )}
          </>
        ) : (
          <Button variant="outline" className="mt-auto w-full" onClick={add} disabled={oauth.starting}>
            {service.oauthAvailable ? <LogIn aria-hidden="true" /> : <Plus aria-hidden="true" />}
            {service.oauthAvailable ? `Connect with ${provider}` : `Connect ${service.displayName}`}
            {service.oauthAvailable && <span className="sr-only"> ({service.displayName})</span>}
          </Button>
        )}
        {oauth.error && (
          <Alert variant="destructive" role="alert">
            {oauth.error}
          </Alert>
        )}
      </CardContent>
    </Card>
  );
}
