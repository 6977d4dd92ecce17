// Steps shared by the browser journeys, driven through the UI like a user would.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { FakeAccount } from '../fakes/twilio.ts';
import { signUp, type SignedUpUser } from '../support/auth.ts';
import { request } from '../support/http.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  E2E_ENV,
  ensureWebBuilt,
  launchBrowser,
  newContext,
  openPage,
  screenshot,
  type TrackedPage,
} from './browser.ts';

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

/** Wait until `check()` holds (e.g. a fake received a send that a job makes after the response). */
export async function until(check: () => boolean, ms = 10_000, what = 'a condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What most journeys start from: a server, a verified owner with a business, a signed-in page. */
export interface Journey {
  server: TestServer;
  browser: Browser;
  context: BrowserContext;
  t: TrackedPage;
  page: Page;
  owner: SignedUpUser;
  bid: string;
  /** The business's API as the owner: `api('POST', '/contacts', {...})`. */
  api: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }>;
  close: () => Promise<void>;
}

/**
 * The preamble the journeys share: build the web app, start the server (`env` over
 * E2E_ENV — fakes' URLs go here), sign up a verified owner, create `business` through the
 * API and sign in through the UI. `close()` stops what this started (not the fakes).
 */
export async function startJourney(options: {
  business: string;
  env?: Record<string, string>;
  viewport?: { width: number; height: number };
}): Promise<Journey> {
  ensureWebBuilt();
  const server = await startTestServer({ ...E2E_ENV, ...options.env });
  const owner = await signUp(server, { verified: true });
  const created = await request<any>(`${server.url}/api/businesses`, {
    body: { name: options.business },
    token: owner.accessToken,
  });
  if (created.status !== 201) throw new Error(`creating the business failed: ${created.status}`);
  const bid = created.json.id as string;
  const browser = await launchBrowser();
  const context = await newContext(browser, options.viewport);
  const t = await openPage(context);
  await signInThroughUi(t.page, server.url, owner.email, owner.password);
  return {
    server,
    browser,
    context,
    t,
    page: t.page,
    owner,
    bid,
    api: (method, path, body) =>
      request<any>(`${server.url}/api/businesses/${bid}${path}`, { method, token: owner.accessToken, body }),
    async close() {
      await context.close();
      await browser.close();
      await server.stop();
    },
  };
}

/** Connect a Twilio number of the fake's `account` to the journey's business (201 or throw). */
export async function addTwilioNumber(j: Journey, account: FakeAccount, phone: string, name = 'Main'): Promise<string> {
  const r = await j.api('POST', '/integrations/twilio', {
    friendly_name: name,
    account_sid: account.sid,
    auth_token: account.authToken,
    phone_number: phone,
  });
  if (r.status !== 201) throw new Error(`adding the Twilio number failed: ${r.status}`);
  return r.json.id as string;
}
