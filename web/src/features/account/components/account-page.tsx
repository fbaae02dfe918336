import { useQuery } from 'urql';
import { ErrorState, LoadingState, RefreshFailed } from '@/components/page-state';
import { PageHeader } from '@/components/page-header';
import { Card, CardContent, CardHeader, CardTitle } from '@/components/ui/card';
import { graphql } from '@/gql';
import { apiFailure } from '@/lib/errors';
import { tokenContext } from '../api/account';
import { ApiTokensCard } from './api-tokens-card';
import { ChangePasswordCard } from './change-password-card';
import { useDocumentTitle } from '@/lib/use-document-title';
import { useLastData, useRefetchOnRecovery } from '@/lib/use-last-data';

const AccountPageQuery = graphql(`
  query AccountPage {
    me {
      id
      email
      displayName
      role
      permissions
      ...ApiTokensCard_Me
    }
  }
`);

export function AccountPage() {
  useDocumentTitle('Account');
  const [{ data: fresh, fetching, error }, refetch] = useQuery({
    query: AccountPageQuery,
    requestPolicy: 'cache-and-network',
    context: tokenContext,
  });
  const data = useLastData(fresh);
  useRefetchOnRecovery(refetch);
  const failure = apiFailure(error);
  return (
    <div className="space-y-6">
      <PageHeader title="Account" description="Your password and API tokens." />
      <RefreshFailed data={data} failure={failure} fetching={fetching} refetch={refetch} />
      {!data ? (
        fetching || !failure ? (
          <LoadingState />
        ) : (
          <ErrorState message={failure.message} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        )
      ) : (
        <>
          <Card>
            <CardHeader>
              <CardTitle>{data.me.displayName}</CardTitle>
            </CardHeader>
            <CardContent>
              <dl className="grid gap-2 text-sm sm:grid-cols-[8rem_1fr]">
                <dt className="text-muted-foreground">User id</dt>
                <dd className="font-mono">{data.me.id}</dd>
                <dt className="text-muted-foreground">Email</dt>
                <dd className="break-all">{data.me.email}</dd>
                <dt className="text-muted-foreground">Role</dt>
                <dd>{data.me.role === 'ADMIN' ? 'Administrator' : 'Member'}</dd>
              </dl>
            </CardContent>
          </Card>
          <ChangePasswordCard />
          <ApiTokensCard me={data.me} />
        </>
      )}
    </div>
  );
}
