import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from './support/browser';
import { startServer, type RunningServer } from './support/server';

// The server goes away under an open tab and comes back; a release replaces the page's chunks.
// The person keeps the header, reads what happened, and the page recovers by itself.

const ARTIFACTS = fileURLToPath(new URL('../e2e-artifacts/', import.meta.url));
const SHOTS = `${ARTIFACTS}screenshots/`;

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
const pageErrors: string[] = [];
let navigations = 0;

const shell = (p: Page) => p.getByRole('navigation', { name: 'Main' });
const nav = (p: Page, name: string) => shell(p).getByRole('link', { name, exact: true });

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) navigations += 1;
  });
  await page.goto(`${server.url}/credentials`);
  await page.getByLabel('Email or user id').fill(server.dev.user.login);
  await page.getByLabel('Password').fill(server.dev.user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('stats').waitFor();
});

afterAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await browser?.close();
  if (server) {
    writeFileSync(`${ARTIFACTS}resilience-server.log`, server.output());
    await server.stop();
  }
});

describe('the dashboard when the server goes away and comes back', () => {
  it('shows the live-update state while connected', async () => {
    await expect
      .poll(() => page.getByTestId('live-indicator').getAttribute('data-state'), { timeout: 15_000 })
      .toBe('connected');
  });

  it('keeps the shell and a message on every page while the server is stopped', async () => {
    await server.stop({ keepData: true });

    // The page on screen keeps its data under an "offline, retrying" banner.
    await expect.poll(() => page.getByTestId('offline-banner').isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await page.getByTestId('stats').isVisible()).toBe(true);
    expect(await page.getByTestId('live-indicator').getAttribute('data-state')).toBe('closed');
    await page.screenshot({ path: `${SHOTS}30-offline-credentials.png`, fullPage: true });

    // Pages whose code was never loaded: the header stays, the message says why.
    for (const [link, name] of [
      ['Audit', 'audit'],
      ['Account', 'account'],
    ] as const) {
      await nav(page, link).click();
      await expect
        .poll(() => page.getByRole('alert').filter({ hasText: 'The server cannot be reached' }).isVisible())
        .toBe(true);
      expect(await shell(page).isVisible()).toBe(true);
      expect(await page.getByTestId('offline-banner').isVisible()).toBe(true);
      await page.screenshot({ path: `${SHOTS}31-offline-${name}.png`, fullPage: true });
    }

    // Back to a page already loaded: its last data, not an error.
    await nav(page, 'Credentials').click();
    await page.getByTestId('stats').waitFor();
    expect(await page.getByRole('button', { name: 'Add credential' }).isEnabled()).toBe(true);

    // An action while offline says what happened instead of failing silently.
    await page.getByRole('button', { name: 'Add credential' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add credential' });
    await dialog.waitFor();
    await page.keyboard.press('Escape');

    await nav(page, 'Account').click();
    await expect
      .poll(() => page.getByRole('alert').filter({ hasText: 'The server cannot be reached' }).isVisible())
      .toBe(true);
  });

  it('recovers without a manual reload once the server answers again', async () => {
    const port = new URL(server.url).port;
    server = await startServer({ bind: `127.0.0.1:${port}`, dataDir: server.dataDir });

    // The Account page, whose code failed to load, opens by itself.
    await expect
      .poll(() => page.getByRole('heading', { name: 'Account', level: 1 }).isVisible(), { timeout: 30_000 })
      .toBe(true);
    await expect.poll(() => page.getByTestId('offline-banner').count(), { timeout: 15_000 }).toBe(0);
    await nav(page, 'Credentials').click();
    await page.getByTestId('stats').waitFor();
    await expect
      .poll(() => page.getByTestId('live-indicator').getAttribute('data-state'), { timeout: 15_000 })
      .toBe('connected');
    await page.screenshot({ path: `${SHOTS}32-recovered.png`, fullPage: true });
  });

  it('reloads once when a new release replaced the chunk a page needs', async () => {
    // A fresh tab on the old release: its Audit chunk is gone from the server (404).
    const tab = await browser.context.newPage();
    tab.on('pageerror', (e) => pageErrors.push(e.message));
    let tabNavigations = 0;
    tab.on('framenavigated', (f) => {
      if (f === tab.mainFrame()) tabNavigations += 1;
    });
    await tab.goto(`${server.url}/credentials`);
    await tab.getByTestId('stats').waitFor();
    let refused = 0;
    await tab.route('**/assets/audit-page-*.js', async (route) => {
      if (refused === 0) {
        refused += 1;
        await route.fulfill({ status: 404, body: 'gone' });
      } else {
        await route.continue();
      }
    });
    const before = tabNavigations;
    await nav(tab, 'Audit').click();
    await expect
      .poll(() => tab.getByRole('heading', { name: 'Audit', level: 1 }).isVisible(), { timeout: 30_000 })
      .toBe(true);
    expect(refused).toBe(1);
    expect(tabNavigations).toBeGreaterThan(before);
    expect(new URL(tab.url()).pathname).toBe('/audit');
    await tab.close();
  });

  it('raised no uncaught page error', () => {
    expect(navigations).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  });
});
