import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiSession } from './support/api';
import { launchBrowser } from './support/browser';
import { startServer, type RunningServer } from './support/server';

// Two tabs of one browser share the session cookie. When one signs in or out, the other must
// not go on showing the last person's page: it starts over by itself, without a reload.

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let first: Page;
let second: Page;
/** A third page of the origin that only listens to what the tabs tell each other. */
let listener: Page;
const names = { user: '', admin: '' };

const signInHeading = (p: Page) => p.getByRole('heading', { name: 'Sign in to credledger' });
const acme = (p: Page) => p.getByTestId('credential-card').filter({ hasText: 'Acme workspace' });
const poll = { timeout: 10_000 };

async function signIn(p: Page, login: string, password: string) {
  await p.getByLabel('Email or user id').fill(login);
  await p.getByLabel('Password').fill(password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByTestId('user-name').waitFor();
}

/** Marks the page, so that a reload (which would forget the mark) shows. */
async function mark(p: Page) {
  return p.evaluate(() => {
    (window as unknown as { __notReloaded: boolean }).__notReloaded = true;
    return performance.timeOrigin;
  });
}

async function stillMarked(p: Page, origin: number) {
  const now = await p.evaluate(
    () => [(window as unknown as { __notReloaded?: boolean }).__notReloaded, performance.timeOrigin] as const,
  );
  expect(now).toEqual([true, origin]);
}

beforeAll(async () => {
  server = await startServer();
  for (const role of ['user', 'admin'] as const) {
    const api = new ApiSession(server.url);
    await api.signIn(server.dev[role].login, server.dev[role].password);
    names[role] = (
      await api.request<{ me: { displayName: string } }>('{ me { displayName } }')
    ).me.displayName;
    if (role === 'user') {
      await api.request(
        'mutation ($input: AddCredentialInput!) { addCredential(input: $input) { credential { id } } }',
        { input: { service: 'notion', name: 'Acme workspace', fields: server.dev.secrets.notion[0] } },
      );
    }
  }
  expect(names.user).not.toBe(names.admin);
  browser = await launchBrowser();
  listener = await browser.context.newPage();
  await listener.goto(`${server.url}/healthz`);
  await listener.evaluate(() => {
    const heard: unknown[] = [];
    (window as unknown as { __heard: unknown[] }).__heard = heard;
    new BroadcastChannel('credledger-session').onmessage = (e) => heard.push(e.data);
  });
  first = await browser.context.newPage();
  await first.goto(`${server.url}/`);
  await signIn(first, server.dev.user.login, server.dev.user.password);
  await acme(first).waitFor();
  second = await browser.context.newPage();
  await second.goto(`${server.url}/credentials`);
  await acme(second).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('two tabs of one browser', () => {
  it('a sign-out in one tab takes the other to the sign-in page, without a reload', async () => {
    const origin = await mark(first);
    await second.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => signInHeading(second).isVisible(), poll).toBe(true);

    await expect.poll(() => signInHeading(first).isVisible(), poll).toBe(true);
    expect(await acme(first).count()).toBe(0);
    expect(await first.getByTestId('user-name').count()).toBe(0);
    await stillMarked(first, origin);
  });

  it('a tab on the sign-in page follows a sign-in in another', async () => {
    const origin = await mark(second);
    await signIn(first, server.dev.user.login, server.dev.user.password);
    await expect.poll(() => second.getByTestId('user-name').textContent(), poll).toBe(names.user);
    await expect.poll(() => acme(second).count(), poll).toBe(1);
    await stillMarked(second, origin);
  });

  it('someone else signing in in another tab replaces the last person in this one', async () => {
    const origin = await mark(first);
    await second.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => signInHeading(second).isVisible(), poll).toBe(true);
    await signIn(second, server.dev.admin.login, server.dev.admin.password);

    await expect.poll(() => first.getByTestId('user-name').textContent(), poll).toBe(names.admin);
    await expect.poll(() => first.getByTestId('stats').isVisible(), poll).toBe(true);
    expect(await acme(first).count()).toBe(0);
    expect(await first.getByText('Acme workspace').count()).toBe(0);
    await stillMarked(first, origin);
  });

  it('told each other only that the session changed, and stored nothing', async () => {
    const heard = await listener.evaluate(() => (window as unknown as { __heard: unknown[] }).__heard);
    // The first sign-in, then sign-out, sign-in, sign-out, sign-in: one message each, the same word.
    expect(heard).toEqual(Array(5).fill('session-changed'));
    for (const p of [first, second]) {
      const stored = await p.evaluate(async () => ({
        local: Object.keys(localStorage),
        session: Object.keys(sessionStorage),
        databases: (await indexedDB.databases()).map((d) => d.name),
        cookies: document.cookie,
      }));
      expect(stored).toEqual({ local: [], session: [], databases: [], cookies: '' });
    }
  });
});
