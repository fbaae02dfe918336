import { CheckCircle2, TriangleAlert, X } from 'lucide-react';
import { useEffect, useState } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { Alert } from '@/components/ui/alert';
import { Button } from '@/components/ui/button';
import { oauthErrorMessage } from '../api/oauth';

/** What the OAuth callback's redirect said (`?oauth=connected&credential=…` or `?oauth_error=…`). */
type Outcome = { kind: 'connected'; credential: string | null } | { kind: 'failed'; code: string };

function readOutcome(search: string): Outcome | null {
  const params = new URLSearchParams(search);
  const code = params.get('oauth_error');
  if (code) return { kind: 'failed', code };
  if (params.get('oauth') === 'connected') return { kind: 'connected', credential: params.get('credential') };
  return null;
}

/**
 * The message after coming back from a provider's consent page. The query parameters are
 * removed at once, so a reload does not repeat it.
 */
export function OAuthResult({
  credentials,
}: {
  credentials: { id: string; name: string; service: string; account?: { email?: string | null } | null }[];
}) {
  const location = useLocation();
  const navigate = useNavigate();
  const [outcome, setOutcome] = useState<Outcome | null>(() => readOutcome(location.search));

  useEffect(() => {
    const found = readOutcome(location.search);
    if (!found) return;
    setOutcome(found);
    navigate({ pathname: location.pathname, hash: location.hash }, { replace: true });
  }, [location.search, location.pathname, location.hash, navigate]);

  if (!outcome) return null;
  const dismiss = (
    <Button variant="ghost" size="sm" className="ml-auto h-6 px-1" onClick={() => setOutcome(null)}>
      <X aria-hidden="true" />
      <span className="sr-only">Dismiss</span>
    </Button>
  );
  if (outcome.kind === 'failed') {
    return (
      <Alert variant="destructive" role="alert" data-testid="oauth-result">
        <TriangleAlert aria-hidden="true" />
        <span>{oauthErrorMessage(outcome.code)}</span>
        {dismiss}
      </Alert>
    );
  }
  const connected = credentials.find((c) => c.id === outcome.credential);
  const who = connected?.account?.email;
  return (
    <Alert variant="success" data-testid="oauth-result">
      <CheckCircle2 aria-hidden="true" />
      <span>
        {connected
          ? `Connected ${who && who !== connected.name ? `${who} as ${connected.name}` : connected.name}. Its tokens renew automatically.`
          : 'Account connected. Its tokens renew automatically.'}
      </span>
      {dismiss}
    </Alert>
  );
}
