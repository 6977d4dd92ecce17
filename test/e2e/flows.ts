// Steps shared by the browser journeys, driven through the UI like a user would.
import type { Page } from 'playwright-core';
import { screenshot } from './browser.ts';

export async function signInThroughUi(page: Page, baseUrl: string, email: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/signin`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/signin'));
}

export async function createBusinessThroughUi(page: Page, name: string): Promise<string> {
  await page.getByLabel('Business name').fill(name);
  await page.getByRole('button', { name: 'Create business' }).click();
  await page.waitForURL(/\/b\/[0-9a-f-]{36}$/);
  await page.getByRole('heading', { level: 1, name }).waitFor();
  return /\/b\/([0-9a-f-]{36})/.exec(page.url())![1]!;
}

/** Run a step; on failure keep a screenshot of the page to see what the user saw. */
export async function step<T>(page: Page, name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    await screenshot(page, `FAILED-${name}`).catch(() => undefined);
    throw e;
  }
}
