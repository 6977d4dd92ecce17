// The workbench in Chromium at 1366 px and 390 px (docs/ARCHITECTURE.md §12–12.2): custom
// fields defined in Settings, edited on a contact and used as a list filter; the bell's
// unread count rising live over the notification stream and its panel leading to the
// record; the dashboard's charts and, for a new business, its getting-started checklist.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { asOwner } from '../../src/db/engine.ts';
import { signUp, type SignedUpUser } from '../support/auth.ts';
import { addMember, newBusiness } from '../support/factories.ts';
import { request } from '../support/http.ts';
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
} from './browser.ts';
import { signInThroughUi, step } from './flows.ts';

const VIEWPORTS = [
  { name: '1366', width: 1366, height: 900 },
  { name: '390', width: 390, height: 844 },
];

describe.skipIf(e2eSkipReason !== null)(
  `web: workbench — custom fields, notifications, dashboard${e2eSkipReason ? ` — skipped: ${e2eSkipReason}` : ''}`,
  () => {
    let server: TestServer;
    let browser: Browser;
    let officer: SignedUpUser;
    let colleague: SignedUpUser;
    let busy = '';
    let fresh = '';
    let ann = '';
    let loan1 = '';

    beforeAll(async () => {
      ensureWebBuilt();
      server = await startTestServer({ ...E2E_ENV });
      browser = await launchBrowser();
      officer = await signUp(server, { verified: true });
      colleague = await signUp(server, { verified: true });
      busy = (await newBusiness(server.engine, officer.userId, 'Harbor Lending')).id;
      fresh = (await newBusiness(server.engine, officer.userId, 'Fresh Start Mortgage')).id;
      await addMember(server.engine, busy, colleague.userId, 'member');
      ann = await asOwner(server.engine, async (c) => {
        const mk = async (first: string, last: string, source: string) =>
          (
            await c.query<{ id: string }>(
              `INSERT INTO app.contacts (business_id, first_name, last_name, source, owner_id) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
              [busy, first, last, source, officer.userId],
            )
          ).rows[0]!.id;
        const a = await mk('Ann', 'Rivera', 'zillow');
        const b = await mk('Ben', 'Okafor', 'referral');
        const z = await mk('Zoe', 'Park', 'web');
        await mk('Sam', 'Lee', 'sms'); // a lead that texted in: its source reads "SMS"
        const stages = ['lead', 'application', 'processing', 'underwriting', 'clear_to_close', 'funded'];
        for (let i = 0; i < 18; i++) {
          const stage = stages[i % stages.length]!;
          const funded = stage === 'funded' ? new Date(Date.now() - (i % 9) * 30 * 86_400_000) : null;
          await c.query(
            `INSERT INTO app.deals (business_id, title, contact_id, stage, amount_cents, position, funded_on)
             VALUES ($1, $2, $3, $4, $5, $6, $7::date)`,
            [busy, `Loan ${i + 1}`, [a, b, z][i % 3], stage, 25_000_000 + i * 1_500_000, i, funded],
          );
        }
        await c.query(
          `INSERT INTO app.tasks (business_id, title, assignee_id, contact_id, due_at) VALUES
             ($1, 'Call Ann about the appraisal', $2, $3, now() - interval '2 hours'),
             ($1, 'Send disclosures', $2, $3, now() + interval '30 minutes')`,
          [busy, officer.userId, a],
        );
        await c.query(
          `INSERT INTO app.conversations (business_id, contact_id, our_number, unread_count, last_message_at)
           VALUES ($1, $2, '+14155550100', 2, now())`,
          [busy, a],
        );
        loan1 = (
          await c.query<{ id: string }>(`SELECT id FROM app.deals WHERE business_id = $1 AND title = 'Loan 1'`, [busy])
        ).rows[0]!.id;
        return a;
      });
    }, 300_000);
    afterAll(async () => {
      await browser?.close();
      await server?.stop();
    });

    for (const vp of VIEWPORTS) {
      it(`custom fields, the bell and the dashboard at ${vp.width} px`, async () => {
        const context = await newContext(browser, { width: vp.width, height: vp.height });
        const t = await openPage(context);
        const page = t.page;
        try {
          await step(page, `wb-signin-${vp.name}`, () =>
            signInThroughUi(page, server.url, officer.email, officer.password),
          );

          // A new business: the getting-started checklist.
          await step(page, `wb-fresh-${vp.name}`, async () => {
            await page.goto(`${server.url}/b/${fresh}`);
            const list = page.getByTestId('getting-started');
            await list.getByText('0 of 4 done').waitFor();
            await list.getByRole('link', { name: 'Connect your Twilio number' }).waitFor();
            await screenshot(page, `workbench-dashboard-new-business-${vp.name}`);
          });

          // The busy business: charts drawn by Recharts from the one endpoint.
          await step(page, `wb-dashboard-${vp.name}`, async () => {
            await page.goto(`${server.url}/b/${busy}`);
            await page.getByRole('heading', { name: 'Open pipeline by stage' }).waitFor();
            await page.locator('[data-testid="chart-pipeline"] .recharts-bar-rectangle').first().waitFor();
            await page.locator('[data-testid="chart-funded"] .recharts-bar-rectangle').first().waitFor();
            await page.locator('[data-testid="chart-leads"] .recharts-bar-rectangle').first().waitFor();
            await page.getByTestId('chart-leads').getByRole('rowheader', { name: 'SMS', exact: true }).waitFor();
            const stats = page.getByTestId('dashboard-stats');
            await expect.poll(() => stats.innerText(), { timeout: 10_000 }).toMatch(/1\s*Overdue tasks/);
            await expect.poll(() => stats.innerText(), { timeout: 10_000 }).toMatch(/1\s*Unread conversations/);
            // the checklist is not finished (no Twilio number yet), so it still shows
            await page.getByTestId('getting-started').getByText('3 of 4 done').waitFor();
            await screenshot(page, `workbench-dashboard-${vp.name}`);
          });

          // Settings → Custom fields (first pass defines the field; the second finds it).
          await step(page, `wb-custom-settings-${vp.name}`, async () => {
            await page.goto(`${server.url}/b/${busy}/settings/custom-fields`);
            await page.getByRole('heading', { name: 'Add a field' }).waitFor();
            if (vp.name === '1366') {
              await page.getByLabel('Label').fill('Credit tier');
              await page.getByLabel('Type').selectOption('choice');
              await page.getByLabel('Options (one per line)').fill('A\nB\nC');
              await page.getByRole('button', { name: 'Add field' }).click();
              await page.getByRole('cell', { name: 'credit_tier' }).waitFor();
              await page.getByLabel('Label').fill('Pre-approved');
              await page.getByLabel('Type').selectOption('checkbox');
              await page.getByRole('button', { name: 'Add field' }).click();
              await page.getByRole('cell', { name: 'pre_approved' }).waitFor();
              await page.getByLabel('Label').fill('Lock expires');
              await page.getByLabel('On', { exact: true }).selectOption('deal');
              await page.getByLabel('Type').selectOption('date');
              await page.getByRole('button', { name: 'Add field' }).click();
              await page.getByRole('cell', { name: 'lock_expires' }).waitFor();
            }
            await page.getByRole('cell', { name: 'credit_tier' }).waitFor();
            await screenshot(page, `workbench-custom-fields-settings-${vp.name}`);
          });

          await step(page, `wb-custom-contact-${vp.name}`, async () => {
            await page.goto(`${server.url}/b/${busy}/contacts/${ann}`);
            const card = page.getByTestId('custom-fields-card');
            await card.getByRole('button', { name: 'Edit fields' }).click();
            await card.getByLabel('Credit tier').selectOption(vp.name === '1366' ? 'A' : 'B');
            await card.getByLabel('Pre-approved').check();
            await card.getByRole('button', { name: 'Save fields' }).click();
            await expect
              .poll(() => card.getByTestId('custom-credit_tier').innerText(), { timeout: 10_000 })
              .toBe(vp.name === '1366' ? 'A' : 'B');
            await expect
              .poll(() => card.getByTestId('custom-pre_approved').innerText(), { timeout: 10_000 })
              .toBe('Yes');
            await screenshot(page, `workbench-custom-fields-contact-${vp.name}`);
          });

          // A deal's custom field, edited on the loan file and stored as a date in `custom`.
          await step(page, `wb-custom-deal-${vp.name}`, async () => {
            const date = vp.name === '1366' ? '2027-01-15' : '2027-02-01';
            await page.goto(`${server.url}/b/${busy}/deals/${loan1}`);
            const card = page.getByTestId('custom-fields-card');
            await card.getByRole('button', { name: 'Edit fields' }).click();
            await card.getByLabel('Lock expires').fill(date);
            await card.getByRole('button', { name: 'Save fields' }).click();
            await expect
              .poll(() => card.getByTestId('custom-lock_expires').innerText(), { timeout: 10_000 })
              .toMatch(/2027/);
            const stored = await asOwner(
              server.engine,
              async (c) =>
                (
                  await c.query<{ v: string }>(`SELECT custom->>'lock_expires' AS v FROM app.deals WHERE id = $1`, [
                    loan1,
                  ])
                ).rows[0]?.v,
            );
            expect(stored).toBe(date);
            await screenshot(page, `workbench-custom-fields-deal-${vp.name}`);
          });

          await step(page, `wb-custom-filter-${vp.name}`, async () => {
            await page.goto(`${server.url}/b/${busy}/contacts`);
            await page.getByLabel('Custom field').selectOption('credit_tier');
            await page.getByLabel('Credit tier is').selectOption(vp.name === '1366' ? 'A' : 'B');
            await page.getByRole('link', { name: /Ann Rivera/ }).waitFor();
            await expect
              .poll(() => page.getByRole('link', { name: /Ben Okafor/ }).count(), { timeout: 10_000 })
              .toBe(0);
            expect(page.url()).toContain('custom=credit_tier');
            await screenshot(page, `workbench-custom-fields-filter-${vp.name}`);
          });

          // The bell: a colleague assigns a task; the count rises without a reload, and opening
          // the notification marks it read. The seeded overdue task also yields a "task due"
          // notification whenever the minute's reminder job runs, so counts are compared with
          // the database's own unread count for the officer, never with a remembered number.
          await step(page, `wb-bell-${vp.name}`, async () => {
            await page.goto(`${server.url}/b/${busy}`);
            const bell = page.getByTestId('bell');
            const shown = async () => {
              const v = await bell.getAttribute('data-unread');
              return v === null ? null : Number(v);
            };
            const unreadInDb = () =>
              asOwner(server.engine, async (c) => {
                const r = await c.query<{ n: number }>(
                  `SELECT count(*)::int AS n FROM app.notifications WHERE user_id = $1 AND read_at IS NULL`,
                  [officer.userId],
                );
                return r.rows[0]!.n;
              });
            // the bell says nothing until it knows, then agrees with the database
            await expect.poll(async () => (await shown()) === (await unreadInDb()), { timeout: 10_000 }).toBe(true);
            const before = (await shown())!;
            const title = `Review the rate lock ${vp.name}`;
            const r = await request(`${server.url}/api/businesses/${busy}/tasks`, {
              token: colleague.accessToken,
              body: { title, assignee_id: officer.userId, contact_id: ann },
            });
            expect(r.status).toBe(201);
            await expect.poll(shown, { timeout: 15_000 }).toBeGreaterThan(before);
            await bell.click();
            const panel = page.getByRole('region', { name: 'Notifications' });
            const link = panel.getByRole('link', { name: `Task assigned to you: ${title}` });
            await link.waitFor();
            await screenshot(page, `workbench-notifications-${vp.name}`);
            await link.click();
            await page.waitForURL(new RegExp(`/contacts/${ann}$`));
            await panel.waitFor({ state: 'hidden' });
            const readAt = () =>
              asOwner(server.engine, async (c) => {
                const q = await c.query<{ read_at: Date | null }>(
                  `SELECT read_at FROM app.notifications WHERE user_id = $1 AND kind = 'assignment' AND title = $2`,
                  [officer.userId, `Task assigned to you: ${title}`],
                );
                return q.rows[0]?.read_at ?? null;
              });
            await expect.poll(readAt, { timeout: 10_000 }).not.toBeNull();
            // and the bell's count comes down to what is still unread
            await expect.poll(async () => (await shown()) === (await unreadInDb()), { timeout: 10_000 }).toBe(true);
          });

          await step(page, `wb-notification-settings-${vp.name}`, async () => {
            await page.goto(`${server.url}/b/${busy}/settings/notifications`);
            await page.getByLabel('Assignments to me').check();
            await page.getByLabel('Send the digest at').selectOption('7');
            await page.getByLabel('Your time zone').fill('America/Chicago');
            await page.getByRole('button', { name: 'Save' }).click();
            await page.getByText('Saved.').waitFor();
            await screenshot(page, `workbench-notification-settings-${vp.name}`);
          });
          expectNoConsoleErrors(t);
        } finally {
          await context.close();
        }
      }, 180_000);
    }
  },
);
