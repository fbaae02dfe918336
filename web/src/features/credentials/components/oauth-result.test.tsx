import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, useLocation } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import { OAuthResult } from './oauth-result';

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.pathname + location.search}</output>;
}

function show(url: string) {
  render(
    <MemoryRouter initialEntries={[url]}>
      <OAuthResult
        credentials={[
          { id: 'cred-9', name: 'Mail', service: 'gmail', account: { email: 'ada@gmail.example' } },
        ]}
      />
      <Where />
    </MemoryRouter>,
  );
}

describe('OAuthResult', () => {
  it('names the connected account and removes the parameters from the address', async () => {
    show('/?oauth=connected&credential=cred-9');
    expect(await screen.findByTestId('oauth-result')).toHaveTextContent(
      'Connected ada@gmail.example as Mail',
    );
    expect(screen.getByTestId('where')).toHaveTextContent(/^\/$/);
  });

  it.each([
    ['denied', 'You cancelled the connection'],
    ['flow', 'expired, was already used or did not come from this browser session'],
    ['duplicate', 'already connected'],
    ['missing_scopes', 'did not grant every permission the service needs'],
    ['something-else', 'could not be completed'],
  ])('explains the %s failure, says nothing was stored where so', async (code, words) => {
    show(`/?oauth_error=${code}`);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(words);
    expect(screen.getByTestId('where')).toHaveTextContent(/^\/$/);
  });

  it('shows nothing without the parameters', () => {
    show('/');
    expect(screen.queryByTestId('oauth-result')).not.toBeInTheDocument();
  });

  it('can be dismissed', async () => {
    show('/?oauth_error=denied');
    await userEvent.setup().click(await screen.findByRole('button', { name: /dismiss/i }));
    expect(screen.queryByTestId('oauth-result')).not.toBeInTheDocument();
  });
});
