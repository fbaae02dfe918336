import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiSession } from './support/api';
import { launchBrowser } from './support/browser';
import { freePort, startServer, type RunningServer } from './support/server';

// Connecting Gmail with OAuth on `serve --dev`: the dashboard sends the person to the
// simulated Google consent page, and the server's callback brings them back. Real flows only:
// nothing is intercepted. The dashboard is reached as `localhost` and the simulated Google as
// `127.0.0.1`: two sites, as the dashboard and Google are, so the way back is a cross-site
// navigation, with which a browser sends no `SameSite=Strict` cookie.

const SHOTS = fileURLToPath(new URL('../e2e-artifacts/screenshots/', import.meta.url));

let server: RunningServer;
/** The dashboard as the person reaches it: another site than the simulated Google. */
let site: string;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let api: ApiSession;

const gmail = (p: Page) => p.getByTestId('service-gmail');

async function gmailCredentials(): Promise<{ name: string; status: string }[]> {
  const { credentials } = await api.request<{ credentials: { name: string; status: string }[] }>(
    '{ credentials(service: "gmail") { name status } }',
  );
  return credentials;
}

/** The message the dashboard shows after coming back from Google. */
async function resultText(p: Page): Promise<string> {
  await expect.poll(() => p.getByTestId('oauth-result').isVisible(), { timeout: 15_000 }).toBe(true);
  return (await p.getByTestId('oauth-result').textContent()) ?? '';
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const port = await freePort();
  site = `http://localhost:${port}`;
  server = await startServer({ bind: `127.0.0.1:${port}`, env: { CREDLEDGER_PUBLIC_URL: site } });
  api = new ApiSession(server.url);
  await api.signIn(server.dev.user.login, server.dev.user.password);
  browser = await launchBrowser();
  page = await browser.context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('connecting Gmail with Google in Chromium against credledger serve --dev', () => {
  it('signs in and shows Gmail connected through Google', async () => {
    await page.goto(`${site}/`);
    await page.getByLabel('Email or user id').fill(server.dev.user.login);
    await page.getByLabel('Password').fill(server.dev.user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.getByRole('heading', { name: 'Credentials', level: 1 }).isVisible())
      .toBe(true);
    await expect
      .poll(() =>
        gmail(page)
          .getByRole('button', { name: /Connect with Google/ })
          .isVisible(),
      )
      .toBe(true);
  });

  it('Deny at Google shows why and stores nothing', async () => {
    await gmail(page)
      .getByRole('button', { name: /Connect with Google/ })
      .click();
    await expect
      .poll(() => page.getByRole('button', { name: 'Cancel' }).isVisible(), { timeout: 15_000 })
      .toBe(true);
    expect(await page.title()).toContain('Google');
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect(await resultText(page)).toContain('You cancelled the connection');
    // The reason is not kept in the address: a reload does not repeat it.
    expect(new URL(page.url()).search).toBe('');
    expect(await gmailCredentials()).toEqual([]);
    expect(await gmail(page).getByTestId('credential-card').count()).toBe(0);
  });

  it('a tampered state is refused with a clear message and stores nothing', async () => {
    // The consent link the dashboard would follow, with its state changed on the way.
    const url = await page.evaluate(async () => {
      const res = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation { startOAuthConnection(service: "gmail") { authorizationUrl } }',
        }),
      });
      const body = (await res.json()) as { data: { startOAuthConnection: { authorizationUrl: string } } };
      return body.data.startOAuthConnection.authorizationUrl;
    });
    const tampered = new URL(url);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}x`);
    await page.goto(tampered.toString());
    await page.getByRole('button', { name: 'Allow' }).click();
    expect(await resultText(page)).toContain(
      'expired, was already used or did not come from this browser session',
    );
    expect(await gmailCredentials()).toEqual([]);
  });

  it('Allow at Google connects an active primary Gmail credential with its email, scopes and expiry', async () => {
    await page.goto(`${site}/credentials`);
    const scopes = await gmail(page).getByTestId('oauth-scopes').textContent();
    expect(scopes).toContain('gmail.readonly');
    await gmail(page)
      .getByRole('button', { name: /Connect with Google/ })
      .click();
    await expect
      .poll(() => page.getByRole('button', { name: 'Allow' }).isVisible(), { timeout: 15_000 })
      .toBe(true);
    const email = ((await page.locator('#account').textContent()) ?? '').trim();
    expect(email).toContain('@');
    await page.screenshot({ path: `${SHOTS}oauth-01-consent.png`, fullPage: true });
    await page.getByRole('button', { name: 'Allow' }).click();

    expect(await resultText(page)).toContain(`Connected ${email}. Its tokens renew automatically.`);
    const card = gmail(page).getByTestId('credential-card');
    await expect.poll(() => card.count()).toBe(1);
    await expect.poll(() => card.getByText('Active').isVisible()).toBe(true);
    expect(await card.getByTestId('primary-badge').isVisible()).toBe(true);
    expect(await card.textContent()).toContain(email);
    expect(await card.getByTestId('granted-scopes').textContent()).toContain('gmail.readonly');
    expect(await card.getByTestId('token-renewal').textContent()).toMatch(
      /renews automatically; this one expires in/,
    );
    expect(await card.getByRole('button', { name: /Reconnect/ }).count()).toBe(0);
    // A token that renews itself is not a reason for attention.
    expect(await card.getByTestId('attention-badge').count()).toBe(0);
    await page.screenshot({ path: `${SHOTS}oauth-02-connected.png`, fullPage: true });

    const stored = await gmailCredentials();
    expect(stored).toHaveLength(1);
    expect(stored[0].status).toBe('ACTIVE');
    // Nothing of the tokens reached the browser's storage.
    const storage = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    const { revealCredential } = await api.request<{ revealCredential: { fields: Record<string, string> } }>(
      'mutation ($id: ID!) { revealCredential(id: $id) { fields } }',
      {
        id: (await api.request<{ credentials: { id: string }[] }>('{ credentials(service: "gmail") { id } }'))
          .credentials[0].id,
      },
    );
    for (const token of Object.values(revealCredential.fields)) {
      expect(storage).not.toContain(token);
    }
  });
});
