import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiSession } from './support/api';
import { launchBrowser } from './support/browser';
import { startServer, type RunningServer } from './support/server';

// Problems first: credentials that need the person's attention are counted and badged with their
// reason. Every state is real, made on `serve --dev` as it happens in life:
// - invalid: a Google Calendar account whose access the person removed at Google, checked again;
// - expired: a Gmail account whose access was removed, found by the token refresh (this server
//   refreshes tokens well before their hour is up, so it happens within seconds);
// - a failing sync: an MCP server registered at an address where nothing listens.

const ARTIFACTS = fileURLToPath(new URL('../e2e-artifacts/', import.meta.url));
const SHOTS = `${ARTIFACTS}screenshots/`;

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let api: ApiSession;

type Status = { status: string; syncStatus: string | null; validationError: string | null };

async function credential(id: string): Promise<Status> {
  const { credential } = await api.request<{ credential: Status }>(
    'query ($id: ID!) { credential(id: $id) { status syncStatus validationError } }',
    { id },
  );
  return credential;
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function unescapeHtml(s: string) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Connects a Google service as the person would, without a browser: consent page, Allow, callback. */
async function connectGoogle(service: string, name: string): Promise<{ id: string; origin: string }> {
  const { startOAuthConnection } = await api.request<{ startOAuthConnection: { authorizationUrl: string } }>(
    'mutation ($s: String!, $n: String) { startOAuthConnection(service: $s, name: $n) { authorizationUrl } }',
    { s: service, n: name },
  );
  const consentPage = new URL(startOAuthConnection.authorizationUrl);
  const html = await (await fetch(consentPage)).text();
  const form = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.append(m[1], unescapeHtml(m[2]));
  }
  form.append('decision', 'allow');
  const consented = await fetch(`${consentPage.origin}/oauth/google/consent`, {
    method: 'POST',
    body: form,
    redirect: 'manual',
  });
  const callback = consented.headers.get('location') ?? '';
  // The callback's page goes on to /oauth/finish (a navigation of this site, which carries the
  // session); the finish sends the person to the dashboard.
  const page = await (await fetch(callback)).text();
  const finish = unescapeHtml(/content="0;url=([^"]+)"/.exec(page)?.[1] ?? '');
  const landed = await api.send(new URL(finish, server.url).toString());
  const back = new URL(landed.headers.get('location') ?? '', server.url);
  const id = back.searchParams.get('credential');
  if (!id) throw new Error(`the connection failed: ${back.search}`);
  return { id, origin: consentPage.origin };
}

/** Removes the app's access at (simulated) Google, as a person does in their account settings. */
async function revokeAtGoogle(origin: string, id: string) {
  const { revealCredential } = await api.request<{ revealCredential: { fields: Record<string, string> } }>(
    'mutation ($id: ID!) { revealCredential(id: $id) { fields } }',
    { id },
  );
  const res = await fetch(`${origin}/oauth/google/revoke`, {
    method: 'POST',
    body: new URLSearchParams({ token: revealCredential.fields.refresh_token }),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer({
    env: {
      CREDLEDGER_OAUTH_REFRESH_INTERVAL_SECS: '1',
      CREDLEDGER_OAUTH_REFRESH_MARGIN_SECS: '3585',
      CREDLEDGER_MCP_SYNC_ATTEMPTS: '1',
    },
  });
  api = new ApiSession(server.url);
  await api.signIn(server.dev.user.login, server.dev.user.password);
  const admin = new ApiSession(server.url);
  await admin.signIn(server.dev.admin.login, server.dev.admin.password);

  // A failing sync: the MCP server's address does not answer.
  await api.request(
    'mutation ($input: AddCredentialInput!) { addCredential(input: $input) { credential { id } } }',
    {
      input: {
        service: 'todoist',
        name: 'Tasks',
        fields: { token: server.dev.secrets.todoist?.[0]?.token ?? '' },
      },
    },
  );
  await admin.request(
    'mutation ($i: RegisterMcpServerInput!) { registerMcpServer(input: $i) { server { id } } }',
    {
      i: {
        id: 'ops-mcp',
        name: 'Ops MCP',
        baseUrl: 'http://127.0.0.1:9',
        allowedServices: ['todoist'],
      },
    },
  );
  await api.request('mutation { grantMcpAccess(serverId: "ops-mcp", service: "todoist") { service } }');

  // Invalid: access removed at Google, then checked again (before the refresh would notice).
  const calendar = await connectGoogle('google_calendar', 'Calendar');
  await revokeAtGoogle(calendar.origin, calendar.id);
  await api.request('mutation ($id: ID!) { revalidateCredential(id: $id) { result } }', { id: calendar.id });
  expect((await credential(calendar.id)).status).toBe('INVALID');

  // Expired: access removed at Google; the next refresh is refused.
  const gmail = await connectGoogle('gmail', 'Mail');
  await revokeAtGoogle(gmail.origin, gmail.id);
  await until(
    'the refused refresh to expire Gmail',
    async () => (await credential(gmail.id)).status === 'EXPIRED',
  );

  const { credentials } = await api.request<{ credentials: { id: string; name: string }[] }>(
    '{ credentials(service: "todoist") { id name } }',
  );
  await until('the failing sync', async () => (await credential(credentials[0].id)).syncStatus === 'ERROR');
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await browser?.close();
  if (server) {
    writeFileSync(`${ARTIFACTS}attention-server.log`, server.output());
    await server.stop();
  }
});

describe('credentials that need attention', () => {
  for (const width of [1280, 390]) {
    it(`are counted and badged with their reason at ${width} px`, async () => {
      const page = await browser.context.newPage();
      await page.setViewportSize({ width, height: width > 400 ? 900 : 844 });
      await page.goto(`${server.url}/credentials`);
      const signIn = page.getByLabel('Email or user id');
      await Promise.race([signIn.waitFor(), page.getByTestId('stats').waitFor()]);
      if (await signIn.isVisible()) {
        await page.getByLabel('Email or user id').fill(server.dev.user.login);
        await page.getByLabel('Password').fill(server.dev.user.password);
        await page.getByRole('button', { name: 'Sign in' }).click();
      }
      const count = page.getByTestId('attention-count');
      await expect.poll(() => count.textContent(), { timeout: 15_000 }).toContain('Needs attention3');
      const badges = await page.getByTestId('attention-badge').allTextContents();
      expect(badges).toHaveLength(3);
      expect(badges.find((b) => b.startsWith('Invalid: '))).toBeTruthy();
      expect(badges).toContain('Expired: reconnect the account');
      const sync = badges.find((b) => b.startsWith('Sync failed: ')) ?? '';
      expect(sync).toMatch(/could not reach the MCP server/);
      // No operating-system error numbers in what a person reads.
      expect(sync).not.toMatch(/os error/);
      // The expired Google account offers to reconnect it.
      const mail = page
        .getByTestId('credential-card')
        .filter({ has: page.getByRole('heading', { name: 'Mail', exact: true }) });
      expect(await mail.getByRole('button', { name: /Reconnect/ }).isVisible()).toBe(true);
      await page.screenshot({ path: `${SHOTS}40-attention-${width}px.png`, fullPage: true });

      // The count filters the page to those credentials.
      await count.click();
      await expect.poll(() => page.getByTestId('credential-card').count()).toBe(3);
      expect(await count.getAttribute('aria-pressed')).toBe('true');
      await page.screenshot({ path: `${SHOTS}41-attention-filtered-${width}px.png`, fullPage: true });

      // The failed sync can be retried now rather than at the sender's hourly retry.
      if (width > 400) {
        const failing = page.getByTestId('credential-card').filter({ hasText: 'Sync failed: ' });
        await failing.getByRole('button', { name: /^Retry sync/ }).click();
        await expect.poll(() => page.getByText('Sync retried', { exact: true }).isVisible()).toBe(true);
      }
      await page.close();
    });
  }
});
