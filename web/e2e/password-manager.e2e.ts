import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from './support/browser';
import { startServer, type RunningServer } from './support/server';

// Chromium's own password manager, read through chrome://password-manager-internals (the log it
// keeps while that page is open): it should offer to save this site's password after a sign-in,
// and never take a third party's key typed into the add dialog, nor the password an administrator
// sets for a new user, for one. Afterwards the profile on disk is searched for the key (Chromium
// keeps its form history in the "Web Data" database).

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let internals: Page;
let page: Page;
let token = '';

const log = () => internals.locator('body').innerText();

/**
 * The log since `from`, once Chromium has handled the submission of a form that left the page
 * after its request succeeded. It handles one in PasswordManager::OnDynamicFormSubmission, which
 * logs this line first and then, in the same call, either has no password it would save and
 * logs nothing more, or asks to save one: AskUserOrSavePassword, "Decision: ASK the user",
 * PENDING_PASSWORD_STATE, the lines the sign-in's log shows right after it.
 *
 * Each line reaches the internals page as a message of its own, so the page may show the first
 * and not yet the ones after it: the log is read again until it has not grown for 500 ms (for
 * 10 s at most; a log still growing then is taken as it is, with more lines, not fewer).
 */
async function afterSubmission(from: number) {
  await expect
    .poll(async () => (await log()).slice(from), { timeout: 10_000 })
    .toMatch(/PasswordManager::OnDynamicFormSubmission/);
  let text = await log();
  let grewAt = Date.now();
  const until = grewAt + 10_000;
  while (Date.now() - grewAt < 500 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await log();
    if (now.length !== text.length) {
      text = now;
      grewAt = Date.now();
    }
  }
  return text.slice(from);
}

beforeAll(async () => {
  server = await startServer();
  token = server.dev.secrets.notion?.[0]?.token ?? '';
  expect(token).not.toBe('');
  browser = await launchBrowser();
  internals = await browser.context.newPage();
  await internals.goto('chrome://password-manager-internals');
  page = await browser.context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("Chromium's password manager and the dashboard", () => {
  it('offers to save the password of a sign-in, this site’s own', async () => {
    await page.goto(`${server.url}/`);
    await page.getByLabel('Email or user id').fill(server.dev.user.login);
    await page.getByLabel('Password').pressSequentially(server.dev.user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.getByRole('heading', { name: 'Credentials', level: 1 }).isVisible())
      .toBe(true);
    await expect.poll(log, { timeout: 10_000 }).toMatch(/PENDING_PASSWORD_STATE/);
    expect(await log()).toMatch(/Password element :\s+password ,/);
  });

  it('does not take an API key typed into the add dialog for a password', async () => {
    const before = (await log()).length;
    await page.getByTestId('service-notion').getByRole('button', { name: 'Connect Notion' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add credential' });
    await dialog.getByLabel(/^Name/).fill('Acme workspace');
    const field = dialog.getByLabel(/^Internal integration token/);
    await field.pressSequentially(token);
    // Masked as a password field is, without being one.
    expect(await field.getAttribute('type')).toBe('text');
    expect(await field.evaluate((el) => getComputedStyle(el).getPropertyValue('-webkit-text-security'))).toBe(
      'disc',
    );
    await dialog.getByRole('button', { name: 'Test credential' }).click();
    await expect.poll(() => dialog.getByText('The credential is valid.').isVisible()).toBe(true);
    await dialog.getByRole('button', { name: 'Add', exact: true }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await expect
      .poll(() => page.getByTestId('credential-card').filter({ hasText: 'Acme workspace' }).count())
      .toBe(1);
    // The form left the page after the answer: Chromium takes that as a submission.
    const since = await afterSubmission(before);
    expect(since).not.toMatch(/PENDING_PASSWORD_STATE/);
    expect(since).not.toMatch(/type=password/);
  });

  it('does not offer to save the password an administrator sets for a new user', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect
      .poll(() => page.getByRole('heading', { name: 'Sign in to credledger' }).isVisible())
      .toBe(true);
    const signingIn = (await log()).length;
    await page.getByLabel('Email or user id').fill(server.dev.admin.login);
    await page.getByLabel('Password').pressSequentially(server.dev.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('link', { name: 'Admin', exact: true }).isVisible()).toBe(true);
    // The administrator's own password is offered, as the person's was.
    await expect
      .poll(async () => (await log()).slice(signingIn), { timeout: 10_000 })
      .toMatch(/PENDING_PASSWORD_STATE/);

    await page.getByRole('link', { name: 'Admin', exact: true }).click();
    await page.getByRole('button', { name: 'New user' }).click();
    const dialog = page.getByRole('dialog', { name: 'New user' });
    const before = (await log()).length;
    await dialog.getByLabel('User id').fill('grace');
    await dialog.getByLabel('Email').fill('grace@example.test');
    await dialog.getByLabel('Name').fill('Grace Hopper');
    const field = dialog.getByLabel('Initial password');
    await field.pressSequentially('grace-initial-Pw-4417');
    expect(await field.getAttribute('type')).toBe('text');
    expect(await field.evaluate((el) => getComputedStyle(el).getPropertyValue('-webkit-text-security'))).toBe(
      'disc',
    );
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await expect.poll(() => page.getByTestId('user-grace').count()).toBe(1);
    // A password field here was taken, with the name typed above it as the user name, on the
    // answer to the request (XHR_SUCCEEDED), and the save offered.
    const since = await afterSubmission(before);
    expect(since).not.toMatch(/PENDING_PASSWORD_STATE/);
    expect(since).not.toMatch(/type=password/);
  });

  it('kept the key out of the profile on disk', async () => {
    await browser.context.close();
    const files = readdirSync(browser.profile, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => join(f.parentPath, f.name));
    expect(files.some((f) => f.endsWith(join('Default', 'Web Data')))).toBe(true);
    const holding = files.filter((f) => readFileSync(f).includes(token));
    expect(holding).toEqual([]);
  });
});
