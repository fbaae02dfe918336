import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiSession } from './support/api';
import { launchBrowser } from './support/browser';
import { startServer, type RunningServer } from './support/server';

// Problems first: credentials that need the person's attention are counted and badged with their
// reason. Three real credentials are added through the API; the simulator cannot make one invalid
// or expired, nor fail a sync on demand, so the page's query answer is changed in flight for
// those three states (status, validationError, syncStatus, syncError) — the rest is the server's.

const ARTIFACTS = fileURLToPath(new URL('../e2e-artifacts/', import.meta.url));
const SHOTS = `${ARTIFACTS}screenshots/`;

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;

type Cred = Record<string, unknown> & { name: string };
const PROBLEMS: Record<string, Partial<Cred>> = {
  'Acme workspace': { status: 'INVALID', validationError: 'API token is invalid.' },
  'Side project': { status: 'EXPIRED' },
  Tasks: {
    status: 'ACTIVE',
    syncStatus: 'ERROR',
    syncError: 'MCP server ops-mcp: error sending request: connection refused (os error 111)',
  },
};

async function withProblems(p: Page) {
  await p.route('**/graphql', async (route) => {
    const body = route.request().postData() ?? '';
    if (!body.includes('CredentialsPage')) return route.continue();
    const res = await route.fetch();
    const json = (await res.json()) as { data?: { credentials?: Cred[] } };
    for (const c of json.data?.credentials ?? []) Object.assign(c, PROBLEMS[c.name] ?? {});
    await route.fulfill({ response: res, json });
  });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  const api = new ApiSession(server.url);
  await api.signIn(server.dev.user.login, server.dev.user.password);
  const add = (service: string, name: string, fields: Record<string, string>) =>
    api.request(
      'mutation ($input: AddCredentialInput!) { addCredential(input: $input) { credential { id } } }',
      { input: { service, name, fields } },
    );
  const notion = server.dev.secrets.notion ?? [];
  await add('notion', 'Acme workspace', { token: notion[0]?.token ?? '' });
  await add('notion', 'Side project', { token: notion[1]?.token ?? '' });
  await add('todoist', 'Tasks', { token: server.dev.secrets.todoist?.[0]?.token ?? '' });
  browser = await launchBrowser();
});

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
      await withProblems(page);
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
      const badges = page.getByTestId('attention-badge');
      expect(await badges.allTextContents()).toEqual(
        expect.arrayContaining([
          'Invalid: API token is invalid.',
          'Expired: replace the token',
          'Sync failed: MCP server ops-mcp: error sending request: connection refused',
        ]),
      );
      await page.screenshot({ path: `${SHOTS}40-attention-${width}px.png`, fullPage: true });

      // The count filters the page to those credentials.
      await count.click();
      await expect.poll(() => page.getByTestId('credential-card').count()).toBe(3);
      expect(await count.getAttribute('aria-pressed')).toBe('true');
      await page.screenshot({ path: `${SHOTS}41-attention-filtered-${width}px.png`, fullPage: true });
      await page.close();
    });
  }
});
