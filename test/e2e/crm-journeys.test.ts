// The main journeys in Chromium against a real server: sign-up refused
// with a breached password then accepted; onboarding; add, search and open a contact;
// CSV import with progress and an error row; a deal dragged across stages; demo data
// vs. a fresh account; sign-out in one tab signing out the other.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { asOwner } from '../../src/db/engine.ts';
import { lastMailTo } from '../support/outbox.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  E2E_ENV,
  e2eSkipReason,
  ensureWebBuilt,
  expectNoConsoleErrors,
  launchBrowser,
  newContext,
  openPage,
  screenshot,
  type TrackedPage,
} from './browser.ts';
import { createBusinessThroughUi, step } from './flows.ts';

const strong = () => `Lantern-${randomBytes(6).toString('hex')}-Harbor`;

describe.skipIf(e2eSkipReason !== null)(
  `web: CRM journeys${e2eSkipReason ? ` — skipped: ${e2eSkipReason}` : ''}`,
  () => {
    let server: TestServer;
    let browser: Browser;
    let context: BrowserContext;
    let t: TrackedPage;
    let page: Page;
    const email = `officer-${randomBytes(4).toString('hex')}@example.test`;
    const password = strong();
    let bid = '';

    beforeAll(async () => {
      ensureWebBuilt();
      server = await startTestServer({ ...E2E_ENV });
      browser = await launchBrowser();
      context = await newContext(browser);
      t = await openPage(context);
      page = t.page;
    }, 300_000);
    afterAll(async () => {
      await context?.close();
      await browser?.close();
      await server?.stop();
    });

    it('refuses a breached password at sign-up, then accepts a strong one and onboards a business', async () => {
      await step(page, 'signup', async () => {
        await page.goto(`${server.url}/signup`);
        await page.getByLabel('Work email').fill(email);
        await page.getByLabel('Password', { exact: true }).fill('Password1!');
        await page.getByRole('button', { name: 'Create account' }).click();
        await page.getByText('appeared in a known data breach').waitFor();
        expect(page.url()).toContain('/signup');
        await screenshot(page, 'sign-up-breached');
        await page.getByLabel('Password', { exact: true }).fill(password);
        await page
          .getByTestId('password-strength')
          .getByText(/Strong|Very strong/)
          .waitFor();
        await page.getByRole('button', { name: 'Create account' }).click();
        await page.waitForURL(/\/onboarding$/);
        await page.getByRole('heading', { name: 'Welcome to Capto' }).waitFor();
        await screenshot(page, 'onboarding');
        bid = await createBusinessThroughUi(page, 'Harbor Mortgage');
        await page.getByTestId('trial-banner').waitFor();
        await page.getByRole('heading', { name: 'Open tasks' }).waitFor();
        await page.getByText('No open tasks').waitFor();
        await screenshot(page, 'dashboard');
        // The access token lives in memory only, and the refresh cookie is out of script's reach.
        const stored = (await page.evaluate(
          'JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])',
        )) as string;
        expect(stored).not.toMatch(/eyJ[A-Za-z0-9_-]+\./);
        expect(stored).not.toContain('capto_refresh');
      });
      expectNoConsoleErrors(t);
    });

    it('adds a contact, finds it with search and opens it', async () => {
      await step(page, 'contacts', async () => {
        await page.getByRole('link', { name: 'Contacts', exact: true }).click();
        await page.getByText('No contacts yet').waitFor();
        await page.getByRole('button', { name: 'New contact' }).click();
        const form = page.getByRole('form', { name: 'New contact' });
        await form.getByLabel('First name').fill('Ada');
        await form.getByLabel('Last name').fill('Lovelace');
        await form.getByLabel('Email').fill('ada@example.test');
        await form.getByLabel('Mobile phone').fill('+12024561111');
        await form.getByRole('button', { name: 'Save contact' }).click();
        await page.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
        await screenshot(page, 'contacts');

        // Global search from the top bar.
        await page.getByLabel('Search contacts, deals and conversations').fill('Lovelace');
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { name: 'Results for “Lovelace”' }).waitFor();
        await page.getByRole('link', { name: 'Ada Lovelace' }).click();
        await page.getByRole('heading', { level: 1, name: 'Ada Lovelace' }).waitFor();

        await page.getByLabel('Add a note').fill('Prefers texts after 5pm.');
        await page.getByRole('button', { name: 'Add note' }).click();
        await page.getByText('Prefers texts after 5pm.', { exact: true }).waitFor();
        await page.getByLabel('New task').fill('Send rate sheet');
        await page.getByRole('button', { name: 'Add task' }).click();
        await page.getByText('Send rate sheet').waitFor();
        await page.getByRole('heading', { name: 'Timeline' }).waitFor();
        await screenshot(page, 'contact-detail');
      });
      expectNoConsoleErrors(t);
    });

    it('imports a CSV with a progress bar and reports the bad row', async () => {
      await step(page, 'import', async () => {
        // A money custom field on contacts: the wizard maps its column by label and the
        // cell is read as money ("$612,500.00" → 61250000 cents).
        await asOwner(server.engine, (c) =>
          c.query(
            `INSERT INTO app.custom_fields (business_id, entity, key, label, type) VALUES ($1, 'contact', 'target_price', 'Target price', 'money')`,
            [bid],
          ),
        );
        await page.getByRole('link', { name: 'Import CSV', exact: true }).click();
        const csv = [
          'First Name,Last Name,Email,Mobile,Target Price',
          'Grace,Hopper,grace@example.test,+12024561112,"$612,500.00"',
          'Bad,Row,not-an-email,12,',
          'Alan,Turing,alan@example.test,,',
        ].join('\n');
        await page
          .getByLabel('CSV file')
          .setInputFiles({ name: 'contacts.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
        await page.getByRole('button', { name: 'Upload and continue' }).click();
        await page.getByRole('heading', { name: 'Match your columns' }).waitFor();
        await page.getByTestId('import-preview').getByText('Will fail').waitFor();
        await screenshot(page, 'import-mapping');
        await page.getByRole('button', { name: /^Import 3 rows$/ }).click();
        await page.getByRole('heading', { name: 'Import complete' }).waitFor({ timeout: 30_000 });
        expect(await page.getByTestId('import-progress').innerText()).toBe('3 of 3 rows processed');
        expect(await page.locator('#import-progress').getAttribute('value')).toBe('3');
        expect(await page.getByTestId('import-created').innerText()).toBe('2');
        expect(await page.getByTestId('import-failed').innerText()).toBe('1');
        const price = await asOwner(server.engine, (c) =>
          c.query<{ v: unknown }>(
            `SELECT custom->'target_price' AS v FROM app.contacts WHERE business_id = $1 AND email = 'grace@example.test'`,
            [bid],
          ),
        );
        expect(price.rows[0]?.v).toBe(61_250_000);
        await page
          .getByTestId('import-errors')
          .getByRole('cell', { name: 'not-an-email', exact: true })
          .first()
          .waitFor();
        await screenshot(page, 'import-results');
        // The record and its error report can go; the contacts stay (checked by the export below).
        await page.getByRole('button', { name: "Delete this import's record" }).click();
        await page.getByRole('button', { name: 'Delete record' }).click();
        await page
          .getByRole('status')
          .filter({ hasText: "The import's record and error report were deleted" })
          .waitFor();
        const jobs = await asOwner(server.engine, (c) =>
          c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.import_jobs WHERE business_id = $1', [bid]),
        );
        expect(jobs.rows[0]!.n).toBe(0);
        // And back out again: the owner's export carries the imported rows.
        await page.getByRole('link', { name: 'Contacts', exact: true }).click();
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Export CSV' }).click(),
        ]);
        expect(download.suggestedFilename()).toBe('contacts.csv');
        const exported = readFileSync((await download.path())!, 'utf8');
        expect(exported).toContain('grace@example.test');
        expect(exported.split('\n')[0]).toContain('Target price');
        expect(exported).not.toContain('not-an-email');
        // Ready again once the file is saved (while it streams, the button counts what arrived).
        await page.getByRole('button', { name: 'Export CSV' }).waitFor();
      });
      expectNoConsoleErrors(t);
    });

    it('moves a deal across pipeline stages by dragging it', async () => {
      await step(page, 'pipeline', async () => {
        await page.getByRole('link', { name: 'Pipeline', exact: true }).click();
        await page.getByRole('button', { name: 'New deal' }).click();
        await page.getByLabel('Title').fill('Lovelace refinance');
        await page.getByLabel('Loan amount (USD)').fill('350000');
        await page.getByRole('button', { name: 'Save deal' }).click();
        const cardIn = (stage: string) =>
          page.locator(`[data-stage="${stage}"] .deal-card`, { hasText: 'Lovelace refinance' });
        await cardIn('lead').waitFor();
        await cardIn('lead').dragTo(page.locator('[data-stage="application"]'));
        await cardIn('application').waitFor();
        // Persisted on the server, not only moved on screen.
        await page.reload();
        await cardIn('application').waitFor();
        expect(await cardIn('lead').count()).toBe(0);
        // The keyboard path: the card's "Move to" select, then its Move button.
        await page.getByLabel('Move Lovelace refinance to stage').selectOption('processing');
        await page.getByRole('button', { name: 'Move Lovelace refinance to Processing' }).click();
        await cardIn('processing').waitFor();
        await screenshot(page, 'pipeline');
      });
      expectNoConsoleErrors(t);
    });

    it('shows my sessions and auth events in Settings → Security', async () => {
      await step(page, 'security-settings', async () => {
        await page.goto(`${server.url}/b/${bid}/settings/security`);
        await page.getByTestId('sessions').getByText('This browser').waitFor();
        await page.getByTestId('auth-events').locator('tbody tr').first().waitFor();
        await screenshot(page, 'settings-security');
      });
      expectNoConsoleErrors(t);
    });

    it('adds selected contacts to a list in bulk and shows them on the list', async () => {
      await step(page, 'lists', async () => {
        await page.goto(`${server.url}/b/${bid}/lists`);
        await page.getByText('No lists yet').waitFor();
        await page.getByLabel('New list name').fill('Spring buyers');
        await page.getByRole('button', { name: 'Create list' }).click();
        await page.getByRole('link', { name: 'Spring buyers' }).waitFor();
        await page.getByRole('link', { name: 'Contacts', exact: true }).click();
        const table = page.getByTestId('contacts-table');
        await table.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
        await table.getByLabel('Select Ada Lovelace').check();
        await table.getByLabel('Select Grace Hopper').check();
        await page.getByLabel('List to add the selected contacts to').selectOption({ label: 'Spring buyers' });
        await page.getByRole('button', { name: 'Add to list' }).click();
        await page.getByText('Added 2 contacts to Spring buyers.').waitFor();
        await page.getByRole('link', { name: 'Lists', exact: true }).click();
        await page.getByRole('link', { name: 'Spring buyers' }).click();
        await page.getByRole('link', { name: 'Grace Hopper' }).waitFor();
        await page.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
        await screenshot(page, 'list-detail');
      });
      expectNoConsoleErrors(t);
    });

    it('a list longer than one page: "Load more" shows the rest with the count, and a member there is removed', async () => {
      await step(page, 'list-load-more', async () => {
        // 201 older members (written as the database owner: fast); the oldest three land on the second page.
        await asOwner(server.engine, async (c) => {
          await c.query(
            `WITH added AS (
               INSERT INTO app.contacts (business_id, first_name, last_name, created_at)
               SELECT $1, 'Member', 'Number ' || i, now() - interval '30 days' + make_interval(secs => i)
                 FROM generate_series(1, 201) AS i
               RETURNING id)
             INSERT INTO app.list_members (business_id, list_id, contact_id)
             SELECT $1, l.id, added.id FROM added, app.lists l WHERE l.business_id = $1 AND l.name = 'Spring buyers'`,
            [bid],
          );
        });
        await page.reload();
        const table = page.getByTestId('list-members');
        await table.getByRole('link', { name: 'Member Number 201', exact: true }).waitFor();
        await table.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
        expect(await table.locator('tbody tr').count()).toBe(200);
        expect(await table.getByRole('link', { name: 'Member Number 1', exact: true }).count()).toBe(0);
        await page.getByTestId('load-more-count').getByText('Showing 200 of 203 members').waitFor();
        await page.getByRole('button', { name: 'Load more' }).click();
        const oldest = table.getByRole('link', { name: 'Member Number 1', exact: true });
        await oldest.waitFor();
        await page.getByTestId('load-more-count').getByText('Showing all 203 members').waitFor();
        await table.getByRole('button', { name: 'Remove Member Number 1', exact: true }).click();
        await expect.poll(() => oldest.count()).toBe(0);
        await page.getByTestId('load-more-count').getByText('Showing all 202 members').waitFor();
        await table.getByRole('link', { name: 'Member Number 2', exact: true }).waitFor();
      });
      expectNoConsoleErrors(t);
    });

    it('invites a teammate who verifies her email and accepts the invitation', async () => {
      const mate = `teammate-${randomBytes(4).toString('hex')}@example.test`;
      await step(page, 'invite', async () => {
        await page.goto(`${server.url}/b/${bid}/settings/team`);
        await page.getByLabel('Email').fill(mate);
        await page.getByRole('button', { name: 'Send invitation' }).click();
        await page.getByText(`Invitation sent to ${mate}.`).waitFor();
        await page.getByText(mate).last().waitFor();
        await screenshot(page, 'settings-team');
      });
      expectNoConsoleErrors(t);

      const other = await newContext(browser);
      const m = await openPage(other);
      await step(m.page, 'accept', async () => {
        const invite = await lastMailTo(server.config.dataDir, mate, /invited/);
        const link = /https:\/\/\S+\/invite\/accept[?#]token=\S+/.exec(invite.text)![0];
        await m.page.goto(link);
        await m.page.getByRole('heading', { name: 'Join a team on Capto' }).waitFor();
        await m.page.getByRole('link', { name: 'Create account' }).last().click();
        await m.page.getByLabel('Work email').fill(mate);
        await m.page.getByLabel('Password', { exact: true }).fill(strong());
        await m.page.getByRole('button', { name: 'Create account' }).click();
        await m.page.getByRole('heading', { name: 'Join a team on Capto' }).waitFor();
        // The invitation needs a verified address: follow the link from the verification mail.
        const verify = await lastMailTo(server.config.dataDir, mate, /Confirm your email/);
        const verifyLink = /https:\/\/\S+\/verify-email#token=[A-Za-z0-9_-]+/.exec(verify.text)![0];
        // Verifying returns to the invitation.
        await m.page.goto(verifyLink);
        await m.page.waitForURL(/\/invite\/accept#token=/);
        await m.page.getByRole('button', { name: 'Accept invitation' }).click();
        await m.page.waitForURL(new RegExp(`/b/${bid}$`));
        await m.page.getByRole('heading', { level: 1, name: 'Harbor Mortgage' }).waitFor();
        expect(await m.page.getByText('Role: member').count()).toBe(1);
      });
      expectNoConsoleErrors(m);
      await other.close();
    });

    it('signs out the other tab when one tab signs out', async () => {
      const second = await openPage(context);
      await step(second.page, 'two-tabs', async () => {
        await second.page.goto(`${server.url}/b/${bid}/contacts`);
        await second.page.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
        await page.goto(`${server.url}/b/${bid}`);
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.waitForURL(/\/signin/);
        await second.page.waitForURL(/\/signin/);
        expect(await second.page.getByText('Ada Lovelace').count()).toBe(0);
        // And the session is gone on the server: a reload does not come back signed in.
        await second.page.goto(`${server.url}/b/${bid}/contacts`);
        await second.page.waitForURL(/\/signin\?next=/);
      });
      expectNoConsoleErrors(second);
      await second.page.close();
    });

    it('shows seeded data to a demo visitor and none to a fresh sign-up', async () => {
      const demo = await newContext(browser);
      const d = await openPage(demo);
      await step(d.page, 'demo', async () => {
        await d.page.goto(`${server.url}/`);
        await d.page.getByRole('button', { name: 'Try the demo' }).click();
        await d.page.getByTestId('demo-banner').waitFor({ timeout: 30_000 });
        await d.page.getByRole('link', { name: 'Contacts', exact: true }).click();
        const rows = d.page.getByTestId('contacts-table').locator('tbody tr');
        await rows.first().waitFor();
        expect(await rows.count()).toBeGreaterThan(5);
        await screenshot(d.page, 'demo-contacts');
      });
      expectNoConsoleErrors(d);
      await demo.close();

      const fresh = await newContext(browser);
      const f = await openPage(fresh);
      await step(f.page, 'fresh', async () => {
        await f.page.goto(`${server.url}/signup`);
        await f.page.getByLabel('Work email').fill(`fresh-${randomBytes(4).toString('hex')}@example.test`);
        await f.page.getByLabel('Password', { exact: true }).fill(strong());
        await f.page.getByRole('button', { name: 'Create account' }).click();
        await f.page.waitForURL(/\/onboarding$/);
        await createBusinessThroughUi(f.page, 'Fresh Lending');
        await f.page.getByRole('link', { name: 'Contacts', exact: true }).click();
        await f.page.getByText('No contacts yet').waitFor();
        expect(await f.page.getByTestId('demo-banner').count()).toBe(0);
      });
      expectNoConsoleErrors(f);
      await fresh.close();
    });

    it('resets a forgotten password through the emailed link', async () => {
      const reset = await newContext(browser);
      const r = await openPage(reset);
      const newPassword = strong();
      await step(r.page, 'reset', async () => {
        await r.page.goto(`${server.url}/signin`);
        await r.page.getByRole('link', { name: 'Forgot your password?' }).click();
        await r.page.getByLabel('Email').fill(email);
        await r.page.getByRole('button', { name: 'Send reset link' }).click();
        await r.page.getByText(`If an account exists for ${email}`).waitFor();
        const mail = await lastMailTo(server.config.dataDir, email, /Reset your Capto password/);
        await r.page.goto(/https:\/\/\S+\/reset-password#token=[A-Za-z0-9_-]+/.exec(mail.text)![0]);
        await r.page.getByLabel('New password').fill('Password1!');
        await r.page.getByRole('button', { name: 'Set password' }).click();
        await r.page.getByText('appeared in a known data breach').waitFor();
        await r.page.getByLabel('New password').fill(newPassword);
        await r.page.getByRole('button', { name: 'Set password' }).click();
        await r.page.getByText('Your password was changed.').waitFor();
        await r.page.getByLabel('Email').fill(email);
        await r.page.getByLabel('Password').fill(newPassword);
        await r.page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await r.page.waitForURL(new RegExp(`/b/${bid}$`));
      });
      expectNoConsoleErrors(r);
      await reset.close();
    });
  },
);
