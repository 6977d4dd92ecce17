/// <reference lib="dom" />
// The loan officer's workbench in Chromium at 1366 px and 390 px: loan files (a deal's
// borrower, co-borrower, referral partner, amount in dollars and cents, rate, purpose,
// milestones, notes, stage history), the rough edges a new user hits (each step below
// names one), keyboard-only journeys for contacts and the pipeline, and an axe-core check
// of every main screen with no serious or critical violation. One server and one browser
// for the whole file; screenshots go to test-output/screenshots/.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { asOwner } from '../../src/db/engine.ts';
import { signUp, type SignedUpUser } from '../support/auth.ts';
import { request } from '../support/http.ts';
import { lastMailTo } from '../support/outbox.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { createBusinessHttp } from '../support/workspace.ts';
import {
  E2E_ENV,
  e2eSkipReason,
  ensureWebBuilt,
  expectAccessible,
  expectNoConsoleErrors,
  launchBrowser,
  newContext,
  openPage,
  waitForQuiet,
  screenshot,
  tabTo,
  type TrackedPage,
} from './browser.ts';
import { signInThroughUi, step } from './flows.ts';

const DESKTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };

describe.skipIf(e2eSkipReason !== null)(
  `web: the loan officer's workbench${e2eSkipReason ? ` — skipped: ${e2eSkipReason}` : ''}`,
  () => {
    let server: TestServer;
    let browser: Browser;
    let desktop: BrowserContext;
    let t: TrackedPage;
    let page: Page;
    let owner: SignedUpUser;
    let bid = '';
    const ids: Record<string, string> = {};
    const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
      request(`${server.url}/api/businesses/${bid}${path}`, { token: owner.accessToken, ...init });
    const contact = async (key: string, body: Record<string, unknown>) => {
      const r = await api('/contacts', { body });
      if (r.status !== 201) throw new Error(`contact ${key}: ${r.status} ${r.text}`);
      ids[key] = r.json.id as string;
    };
    const at = (path: string) => `${server.url}/b/${bid}${path}`;

    beforeAll(async () => {
      ensureWebBuilt();
      server = await startTestServer({ ...E2E_ENV });
      browser = await launchBrowser();
      owner = await signUp(server, { verified: true });
      bid = await createBusinessHttp(server, owner, 'Harbor Mortgage');
      await contact('ada', {
        first_name: 'Ada',
        last_name: 'Lovelace',
        phone: '+12024561111',
        email: 'ada@example.test',
      });
      await contact('cole', { first_name: 'Cole', last_name: 'Porter', email: 'cole@example.test' });
      await contact('rita', { first_name: 'Rita', last_name: 'Realtor', kind: 'realtor', phone: '+12024561112' });
      desktop = await newContext(browser, DESKTOP);
      t = await openPage(desktop);
      page = t.page;
    }, 300_000);
    afterAll(async () => {
      await desktop?.close();
      await browser?.close();
      await server?.stop();
    });

    it('signed-out pages: no 401 in the console, no Google button without a Google client, titles name the screen', async () => {
      const context = await newContext(browser, DESKTOP);
      const p = await context.newPage();
      const all: string[] = [];
      p.on('console', (m) => m.type() === 'error' && all.push(m.text()));
      await step(p, 'signed-out', async () => {
        for (const [path, title] of [
          ['/', 'Capto — the CRM for loan officers'],
          ['/signin', 'Sign in · Capto'],
          ['/signup', 'Create your account · Capto'],
        ] as const) {
          await p.goto(`${server.url}${path}`);
          await p.getByRole('heading', { level: 1 }).first().waitFor();
          await p.waitForLoadState('networkidle');
          expect(await p.title()).toBe(title);
          await expectAccessible(p, path);
        }
        expect(await p.getByRole('link', { name: /Continue with Google/ }).count()).toBe(0);
        await screenshot(p, 'workbench-signin-1366');
      });
      expect(all).toEqual([]);
      await context.close();
    });

    it('contacts: national phones with tel:/sms: links, a duplicate links to the existing contact, sentences for errors', async () => {
      await step(page, 'contacts', async () => {
        await signInThroughUi(page, server.url, owner.email, owner.password);
        await page.goto(at('/contacts'));
        const row = page.getByTestId('contacts-table').getByRole('row', { name: /Ada Lovelace/ });
        const call = row.getByRole('link', { name: '(202) 456-1111, call' });
        await call.waitFor();
        expect(await call.innerText()).toBe('(202) 456-1111');
        expect(await call.getAttribute('href')).toBe('tel:+12024561111');
        expect(await row.getByRole('link', { name: 'Text (202) 456-1111' }).getAttribute('href')).toBe(
          'sms:+12024561111',
        );
        expect(await page.title()).toBe('Contacts · Capto');
        await expectAccessible(page, 'contacts');

        await page.getByRole('button', { name: 'New contact' }).click();
        const form = page.getByRole('form', { name: 'New contact' });
        await form.getByLabel('First name').fill('Ada');
        await form.getByLabel('Email').fill('ada@example.test');
        await form.getByRole('button', { name: 'Save contact' }).click();
        const existing = form.getByRole('link', { name: 'Open the existing contact' });
        await existing.waitFor();
        expect(await existing.getAttribute('href')).toBe(`/b/${bid}/contacts/${ids.ada}`);
        await form.getByLabel('Email').fill('');
        await form.getByLabel('Mobile phone').fill('12');
        await form.getByRole('button', { name: 'Save contact' }).click();
        await form.getByText('That phone number does not look right.').waitFor();
        await screenshot(page, 'workbench-contacts-1366');

        // Settings: the server's validation message is a sentence about the field.
        await page.goto(at('/settings/general'));
        await page.getByLabel('NMLS number').fill('12ab');
        await page.getByRole('button', { name: /Save/ }).first().click();
        await page.getByRole('alert').getByText('NMLS number must be 1–12 digits.').waitFor();
      });
      expectNoConsoleErrors(t);
    });

    it('loan file: New deal from a contact pre-fills the borrower; amount in cents, partner, co-borrower, milestones, notes, stage history', async () => {
      await step(page, 'loan-file', async () => {
        await page.goto(at(`/contacts/${ids.ada}`));
        await page.getByRole('heading', { level: 1, name: 'Ada Lovelace' }).waitFor();
        expect(await page.title()).toBe('Ada Lovelace · Capto');
        await page.getByRole('link', { name: 'New deal' }).click();
        const form = page.getByRole('form', { name: 'New deal' });
        await form.getByTestId('picked-Borrower').getByText('Ada Lovelace').waitFor();
        await form.getByLabel('Title').fill('Lovelace — 12 Harbor Rd');
        await form.getByLabel('Loan amount (USD)').fill('$612,500.50');
        await form.getByLabel('Rate (%)').fill('6.875');
        await form.getByLabel('Loan type').selectOption({ label: 'FHA' });
        await form.getByLabel('Property address').fill('12 Harbor Rd, Austin, TX 78704');
        await form.getByLabel('Co-borrower', { exact: true }).fill('Cole');
        await form.getByRole('button', { name: 'Choose Cole Porter' }).click();
        await form.getByRole('button', { name: 'Choose Rita Realtor' }).click();
        await expectAccessible(page, 'deal form');
        await screenshot(page, 'workbench-deal-form-1366');
        await form.getByRole('button', { name: 'Save deal' }).click();
        await page.getByRole('heading', { level: 1, name: 'Lovelace — 12 Harbor Rd' }).waitFor();
        ids.deal = /\/deals\/([0-9a-f-]{36})/.exec(page.url())![1]!;
        const facts = page.getByTestId('loan-file');
        await facts.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
        for (const text of ['$612,500.50', '6.875%', 'FHA', 'Purchase', '12 Harbor Rd, Austin, TX 78704']) {
          await facts.getByText(text, { exact: true }).waitFor();
        }
        await facts.getByRole('link', { name: 'Cole Porter' }).waitFor();
        await facts.getByRole('link', { name: 'Rita Realtor' }).waitFor();

        await page.getByLabel('Application').fill('2026-11-02');
        await page.getByLabel('Appraisal ordered').fill('2026-11-10');
        await page.getByRole('button', { name: 'Save milestones' }).click();
        await page.getByTestId('milestones-progress').getByText('2 of 7 reached').waitFor();
        await page.getByText('Milestones saved.').waitFor();
        await page.getByLabel('Add a note to this loan').fill('Appraisal ordered with Lakeside.');
        await page.getByRole('button', { name: 'Add note' }).click();
        await page.getByText('Appraisal ordered with Lakeside.', { exact: true }).waitFor();
        await page.getByLabel('Move Lovelace — 12 Harbor Rd to stage').selectOption('application');
        await page.getByRole('button', { name: 'Move Lovelace — 12 Harbor Rd to Application' }).click();
        await page.getByTestId('stage-history').getByText('Lead → Application').waitFor();
        await expectAccessible(page, 'deal page');
        await screenshot(page, 'workbench-deal-1366');

        // The borrower's and the partner's pages list the deal with their role.
        await page.goto(at(`/contacts/${ids.rita}`));
        const deals = page.getByTestId('contact-deals');
        await deals.getByRole('link', { name: 'Lovelace — 12 Harbor Rd' }).waitFor();
        await deals.getByText(/Referral partner/).waitFor();
        await page.goto(at(`/contacts/${ids.ada}`));
        await page
          .getByTestId('contact-deals')
          .getByText(/Borrower/)
          .waitFor();
      });
      const stored = await api(`/deals/${ids.deal}`);
      expect(stored.json).toMatchObject({ amount_cents: 61_250_050, rate_percent: 6.875, partner_id: ids.rita });
      expectNoConsoleErrors(t);
    });

    it('pipeline: fits the window, proper loan type names, the card opens the deal, arrow keys do not move it (keyboard only)', async () => {
      await step(page, 'pipeline', async () => {
        await page.goto(at('/pipeline'));
        const card = page.locator('[data-stage="application"] .deal-card', { hasText: 'Lovelace — 12 Harbor Rd' });
        await card.waitFor();
        await card.getByText(/^FHA · \$612,500\.50$/).waitFor();
        expect(await page.title()).toBe('Pipeline · Capto');
        // The page never scrolls sideways; the board does, inside itself.
        const widths = await page.evaluate(() => {
          const board = document.querySelector('[data-testid="kanban"]')!;
          const clipped = Array.from(document.querySelectorAll('.kanban-col h2 span:first-child')).filter(
            (s) => s.scrollWidth > s.clientWidth + 1,
          ).length;
          return {
            page: document.documentElement.scrollWidth,
            window: window.innerWidth,
            board: board.scrollWidth,
            boardBox: board.clientWidth,
            clipped,
          };
        });
        expect(widths.page).toBeLessThanOrEqual(widths.window);
        expect(widths.board).toBeGreaterThan(widths.boardBox);
        expect(widths.clipped).toBe(0);
        await expectAccessible(page, 'pipeline');
        await screenshot(page, 'workbench-pipeline-1366');

        // Keyboard only: Tab to the card's stage select, arrow through stages — nothing
        // moves — then Tab to Move and press Enter.
        await page.locator('body').click({ position: { x: 1, y: 1 } });
        await tabTo(page, `#move-${ids.deal}`);
        await page.keyboard.press('ArrowDown');
        await page.keyboard.press('ArrowDown');
        await page.waitForTimeout(400);
        expect((await api(`/deals/${ids.deal}`)).json.stage).toBe('application');
        await card.waitFor();
        await page.keyboard.press('Tab');
        await page.keyboard.press('Enter');
        await page.locator('[data-stage="underwriting"] .deal-card', { hasText: 'Lovelace — 12 Harbor Rd' }).waitFor();
        expect((await api(`/deals/${ids.deal}`)).json.stage).toBe('underwriting');
        // The card's title opens the loan file.
        await page.getByRole('link', { name: 'Lovelace — 12 Harbor Rd' }).click();
        await page.waitForURL(new RegExp(`/deals/${ids.deal}$`));
        await page.getByRole('heading', { level: 2, name: 'Stage history' }).waitFor();
      });
      expectNoConsoleErrors(t);
    });

    it('contacts from the keyboard alone: create one and open it', async () => {
      await step(page, 'keyboard-contacts', async () => {
        await page.goto(at('/contacts'));
        await page.getByTestId('contacts-table').waitFor();
        await tabTo(page, 'button.primary');
        expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('New contact');
        await page.keyboard.press('Enter');
        await page.keyboard.type('Grace'); // First name has the focus
        await page.keyboard.press('Tab');
        await page.keyboard.type('Hopper');
        await page.keyboard.press('Enter'); // submits the form
        const link = page.getByRole('link', { name: 'Grace Hopper' });
        await link.waitFor();
        await tabTo(page, 'a[href*="/contacts/"]:not([href$="/trash"])');
        expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Grace Hopper');
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { level: 1, name: 'Grace Hopper' }).waitFor();
        // A status change shows from → to in the timeline.
        await page.getByRole('form', { name: 'Contact details' }).getByLabel('Status').selectOption('prospect');
        await page.getByRole('button', { name: 'Save changes' }).click();
        await page.getByText('— Lead → Prospect').waitFor();
        // Notes are shown and the author edits hers in place.
        await page.getByLabel('Add a note').fill('Call back Monday');
        await page.getByRole('button', { name: 'Add note' }).click();
        await page.getByText('Call back Monday', { exact: true }).waitFor();
        await page.getByRole('button', { name: 'Edit note' }).click();
        await page.getByLabel('Edit note').fill('Call back Tuesday after 5pm');
        await page.getByRole('button', { name: 'Save note' }).click();
        await page.getByText('Call back Tuesday after 5pm', { exact: true }).waitFor();
        // The notes list and the timeline both show the edited words once they refetched.
        await expect.poll(() => page.getByText('Call back Monday', { exact: true }).count()).toBe(0);
        await expectAccessible(page, 'contact page');
        await screenshot(page, 'workbench-contact-1366');
      });
      expectNoConsoleErrors(t);
    });

    it('trash: Cancel has the focus, the deleted page says it is in the trash, restore and delete for good', async () => {
      await step(page, 'trash', async () => {
        await page.goto(at(`/contacts/${ids.cole}`));
        await page.getByRole('button', { name: 'Delete contact' }).click();
        const dialog = page.getByRole('dialog', { name: 'Delete this contact?' });
        await dialog.waitFor();
        expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
        await expectAccessible(page, 'delete dialog');
        await dialog.getByRole('button', { name: 'Delete contact' }).click();
        await page.waitForURL(/\/contacts$/);
        await page.getByRole('link', { name: 'Trash' }).click();
        const row = page.getByTestId('trash-table').getByRole('row', { name: /Cole Porter/ });
        await row.waitFor();
        expect(await page.title()).toBe('Trash · Capto');
        await expectAccessible(page, 'trash');
        await screenshot(page, 'workbench-trash-1366');
        await row.getByRole('link', { name: 'Cole Porter' }).click();
        await page.getByTestId('in-trash').getByText('This contact is in the trash.').waitFor();
        await page.getByRole('button', { name: 'Restore contact' }).click();
        await page.getByRole('button', { name: 'Delete contact' }).waitFor();
        expect(await page.getByTestId('in-trash').count()).toBe(0);

        // Delete for good (owners and admins), from the trash.
        await page.getByRole('button', { name: 'Delete contact' }).click();
        await page
          .getByRole('dialog', { name: 'Delete this contact?' })
          .getByRole('button', { name: 'Delete contact' })
          .click();
        await page.waitForURL(/\/contacts$/);
        await page.goto(at('/contacts/trash'));
        await page.getByRole('button', { name: 'Delete Cole Porter for good' }).click();
        const forGood = page.getByRole('dialog', { name: 'Delete this contact for good?' });
        expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
        await forGood.getByRole('button', { name: 'Delete for good' }).click();
        await page.getByText('Cole Porter was deleted for good.').waitFor();
        expect((await api(`/contacts/${ids.cole}`)).status).toBe(404);

        // A missing contact says so, with a way back.
        await page.goto(at(`/contacts/${randomUUID()}`));
        await page.getByRole('heading', { name: 'This contact was not found' }).waitFor();
        await page.getByRole('link', { name: 'Back to contacts' }).click();
        await page.waitForURL(/\/contacts$/);
      });
      expectNoConsoleErrors(t);
    });

    it('trash: "Load more" reaches the contacts deleted before the newest 100, and one of them is restored', async () => {
      await step(page, 'trash-load-more', async () => {
        // 105 trashed contacts (written as the database owner: fast); the oldest is about to be purged.
        let olive = '';
        await asOwner(server.engine, async (c) => {
          await c.query(
            `INSERT INTO app.contacts (business_id, first_name, last_name, deleted_at)
             SELECT $1, 'Trashed', 'Number ' || i, now() - make_interval(hours => i) FROM generate_series(1, 104) AS i`,
            [bid],
          );
          const r = await c.query<{ id: string }>(
            `INSERT INTO app.contacts (business_id, first_name, last_name, deleted_at)
             VALUES ($1, 'Olive', 'Oldest', now() - interval '29 days') RETURNING id`,
            [bid],
          );
          olive = r.rows[0]!.id;
        });
        await page.goto(at('/contacts/trash'));
        const table = page.getByTestId('trash-table');
        await table.getByRole('link', { name: 'Trashed Number 1', exact: true }).waitFor();
        expect(await table.locator('tbody tr').count()).toBe(100);
        expect(await table.getByRole('link', { name: 'Olive Oldest' }).count()).toBe(0);
        await page.getByTestId('load-more-count').getByText('Showing 100 deleted contacts').waitFor();
        await page.getByRole('button', { name: 'Load more' }).click();
        const row = table.getByRole('row', { name: /Olive Oldest/ });
        await row.waitFor();
        await page.getByTestId('load-more-count').getByText('Showing all 105 deleted contacts').waitFor();
        expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
        // The button went away with the last page: the focus is on the count, not lost to the body.
        expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('load-more-count');
        await expectAccessible(page, 'trash, all pages');
        await row.getByRole('button', { name: 'Restore Olive Oldest' }).click();
        await page.getByText('Olive Oldest was restored.').waitFor();
        await expect.poll(() => table.getByRole('row', { name: /Olive Oldest/ }).count()).toBe(0);
        await page.getByTestId('load-more-count').getByText('Showing all 104 deleted contacts').waitFor();
        expect((await api(`/contacts/${olive}`)).json.deleted_at).toBeNull();
      });
      expectNoConsoleErrors(t);
    });

    it('contact page: the notes and the timeline load past their first 50 with "Load more"', async () => {
      await step(page, 'contact-load-more', async () => {
        await asOwner(server.engine, async (c) => {
          await c.query(
            `INSERT INTO app.notes (business_id, contact_id, body, created_at, updated_at)
             SELECT $1, $2, 'Old note ' || i || '.', now() - make_interval(hours => i), now() - make_interval(hours => i)
               FROM generate_series(1, 60) AS i`,
            [bid, ids.rita],
          );
        });
        await page.goto(at(`/contacts/${ids.rita}`));
        for (const name of ['Notes', 'Timeline']) {
          const section = page.getByRole('region', { name });
          await section.getByText('Old note 1.').waitFor();
          expect(await section.getByText('Old note 60.').count()).toBe(0);
          await section.getByRole('button', { name: 'Load more' }).click();
          await section.getByText('Old note 60.').waitFor();
          expect(await section.getByRole('button', { name: 'Load more' }).count()).toBe(0);
        }
        await page.getByRole('region', { name: 'Notes' }).getByText('Showing all 60 notes').waitFor();
      });
      expectNoConsoleErrors(t);
    });

    it('import: "See imported contacts" shows every row of that import; imported notes are shown and editable', async () => {
      await step(page, 'import', async () => {
        const csv = [
          'First Name,Last Name,Email,Source,Notes',
          'Imani,One,imani1@example.test,Zillow,Pre-approved in March',
          'Imani,Two,imani2@example.test,Web,',
          'Imani,Three,imani3@example.test,Referral,',
          'Imani,Four,imani4@example.test,,',
          'Imani,Five,imani5@example.test,Other,',
          'Imani,Six,imani6@example.test,Web,',
          'Ada,Lovelace,ada@example.test,Web,Met at the open house',
        ].join('\n');
        await page.goto(at('/import'));
        await page
          .getByLabel('CSV file')
          .setInputFiles({ name: 'leads.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
        await page.getByRole('button', { name: 'Upload and continue' }).click();
        await page.getByRole('heading', { name: 'Match your columns' }).waitFor();
        await page.getByLabel('Update the existing contact').check();
        await page.getByRole('button', { name: /^Import 7 rows$/ }).click();
        await page.getByRole('heading', { name: 'Import complete' }).waitFor({ timeout: 30_000 });
        await page.getByRole('link', { name: 'See imported contacts' }).click();
        await page.getByText('Showing the contacts of one CSV import.').waitFor();
        const rows = page.getByTestId('contacts-table').locator('tbody tr');
        await rows.first().waitFor();
        // Six created and one existing contact updated: all seven rows of the file.
        await page.getByTestId('contacts-table').getByRole('link', { name: 'Ada Lovelace', exact: true }).waitFor();
        expect(await rows.count()).toBe(7);
        await screenshot(page, 'workbench-imported-1366');

        await page.getByRole('link', { name: 'Imani One' }).click();
        const notes = page.getByLabel('Background notes');
        expect(await notes.inputValue()).toBe('Pre-approved in March');
        await notes.fill('Pre-approved in March; wants a 15-year fixed');
        await page.getByRole('button', { name: 'Save changes' }).click();
        await page.getByText('Saved.').waitFor();
        await page.reload();
        expect(await page.getByLabel('Background notes').inputValue()).toBe(
          'Pre-approved in March; wants a 15-year fixed',
        );
      });
      expectNoConsoleErrors(t);
    });

    it('inbox: says a Twilio number is missing before you type; the thread fills the window without a blank page', async () => {
      await step(page, 'inbox', async () => {
        await page.goto(at(`/inbox?contact=${ids.ada}`));
        await page.getByText('Texting needs a Twilio number').waitFor();
        expect(await page.getByLabel('First message').isDisabled()).toBe(true);
        await expectAccessible(page, 'inbox (new conversation)');
        // A long thread (written as the database owner: no Twilio in this test).
        const conv = randomUUID();
        await asOwner(server.engine, async (c) => {
          await c.query(
            `INSERT INTO app.conversations (id, business_id, contact_id, our_number, last_message_at)
             VALUES ($1, $2, $3, '+15125550100', now())`,
            [conv, bid, ids.ada],
          );
          await c.query(
            `INSERT INTO app.messages (business_id, conversation_id, direction, body, status, created_at)
             SELECT $1, $2, CASE WHEN i % 2 = 0 THEN 'inbound' ELSE 'outbound' END, 'Message number ' || i || '.',
                    CASE WHEN i % 2 = 0 THEN 'received' ELSE 'delivered' END, now() - make_interval(mins => 200 - i)
               FROM generate_series(1, 130) AS i`,
            [bid, conv],
          );
        });
        await page.goto(at(`/inbox/${conv}`));
        const msg = (n: number) => page.locator('.msg').filter({ hasText: `Message number ${n}.` });
        await msg(130).waitFor();
        const sizes = await page.evaluate(() => ({
          page: document.documentElement.scrollHeight,
          window: window.innerHeight,
          thread: document.querySelector('.thread')!.getBoundingClientRect().bottom,
        }));
        expect(sizes.page).toBeLessThanOrEqual(sizes.window + 2);
        expect(sizes.thread).toBeGreaterThan(sizes.window - 120);
        expect(await page.title()).toBe('Inbox · Capto');
        await expectAccessible(page, 'inbox thread');
        await screenshot(page, 'workbench-inbox-1366');
        // The newest 100 first; the 30 before them load above, and the reader stays where she was.
        expect(await page.locator('.msg').count()).toBe(100);
        expect(await msg(30).count()).toBe(0);
        await page.getByRole('button', { name: 'Load earlier messages' }).click();
        await msg(1).waitFor();
        await page.getByTestId('load-more-count').getByText('Showing all 130 messages').waitFor();
        expect(await page.locator('.msg').count()).toBe(130);
        expect(await page.evaluate(() => document.querySelector('.messages')!.scrollTop)).toBeGreaterThan(0);
        await expectAccessible(page, 'inbox thread, earlier messages');
      });
      expectNoConsoleErrors(t);
    });

    it('every other main screen passes axe; sign-in activity lists no token refreshes', async () => {
      await step(page, 'axe-screens', async () => {
        for (const [path, title] of [
          ['', 'Dashboard · Capto'],
          ['/lists', 'Lists · Capto'],
          ['/import', 'Import contacts · Capto'],
          ['/settings/general', 'General settings · Capto'],
          ['/settings/team', 'Team settings · Capto'],
          ['/settings/integrations', 'Integrations · Capto'],
          ['/templates', 'Templates · Capto'],
          ['/campaigns', 'Campaigns · Capto'],
          ['/ai-drafts', 'AI drafts · Capto'],
          ['/settings/security', 'Security settings · Capto'],
        ] as const) {
          await page.goto(at(path));
          await page.getByRole('heading', { level: 1 }).first().waitFor();
          await waitForQuiet(page);
          expect(await page.title()).toBe(title);
          await expectAccessible(page, path || 'dashboard');
        }
        // Each page load above refreshed the token; none of it is "sign-in activity".
        const events = page.getByTestId('auth-events');
        await events.locator('tbody tr').first().waitFor();
        expect(await events.getByText('sign in', { exact: true }).count()).toBeGreaterThan(0);
        expect(await events.getByText(/token refreshed/i).count()).toBe(0);
        await screenshot(page, 'workbench-security-1366');
      });
      expectNoConsoleErrors(t);
    }, 180_000);

    it('at 390 px: the pipeline shows one stage at a time with a stage picker; screens fit the phone', async () => {
      const phone = await newContext(browser, PHONE);
      const m = await openPage(phone);
      await step(m.page, 'phone', async () => {
        await signInThroughUi(m.page, server.url, owner.email, owner.password);
        await m.page.goto(at('/pipeline'));
        const picker = m.page.getByLabel('Stage', { exact: true });
        await picker.waitFor();
        const visible = () =>
          m.page.locator('.kanban-col:visible').evaluateAll((cols) => cols.map((c) => c.getAttribute('data-stage')));
        expect(await visible()).toEqual(['lead']);
        await picker.selectOption('underwriting');
        expect(await visible()).toEqual(['underwriting']);
        await m.page.locator('[data-stage="underwriting"] .deal-card', { hasText: 'Lovelace' }).waitFor();
        const fits = () => m.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
        expect(await fits()).toBe(true);
        await expectAccessible(m.page, 'pipeline (phone)');
        await screenshot(m.page, 'workbench-pipeline-390');
        for (const [path, name] of [
          [`/deals/${ids.deal}`, 'deal'],
          [`/contacts/${ids.ada}`, 'contact'],
          ['/contacts', 'contacts'],
        ] as const) {
          await m.page.goto(at(path));
          await m.page.getByRole('heading', { level: 1 }).first().waitFor();
          await waitForQuiet(m.page);
          expect([name, await fits()]).toEqual([name, true]);
          await expectAccessible(m.page, `${name} (phone)`);
          await screenshot(m.page, `workbench-${name}-390`);
        }
      });
      expectNoConsoleErrors(m);
      await phone.close();
    }, 180_000);

    it('invitation: the email is pre-filled on sign-up, verification can be resent, and verifying returns to the invitation', async () => {
      const mate = `mate-${randomUUID().slice(0, 8)}@example.test`;
      const invited = await api('/invitations', { body: { email: mate, role: 'member' } });
      expect(invited.status).toBe(201);
      const ctx = await newContext(browser, DESKTOP);
      const m = await openPage(ctx);
      await step(m.page, 'invitation', async () => {
        const mail = await lastMailTo(server.config.dataDir, mate, /invited/);
        const link = /https:\/\/\S+\/invite\/accept#token=[A-Za-z0-9_-]+&email=\S+/.exec(mail.text)![0];
        await m.page.goto(link);
        await m.page.getByRole('heading', { name: 'Join a team on Capto' }).waitFor();
        await expectAccessible(m.page, 'invitation');
        await m.page.getByRole('link', { name: 'Create account' }).last().click();
        expect(await m.page.getByLabel('Work email').inputValue()).toBe(mate);
        await m.page.getByLabel('Password', { exact: true }).fill(`Lantern-${randomUUID().slice(0, 12)}-Harbor`);
        await m.page.getByRole('button', { name: 'Create account' }).click();
        await m.page.getByRole('button', { name: 'Resend verification email' }).click();
        await m.page.getByText('We sent the link again.').waitFor();
        await screenshot(m.page, 'workbench-invitation-verify-1366');
        const verify = await lastMailTo(server.config.dataDir, mate, /Confirm your email/);
        const verifyLink = /https:\/\/\S+\/verify-email#token=[A-Za-z0-9_-]+/.exec(verify.text)![0];
        await m.page.goto(verifyLink);
        await m.page.waitForURL(/\/invite\/accept#token=/);
        await m.page.getByRole('button', { name: 'Accept invitation' }).click();
        await m.page.waitForURL(new RegExp(`/b/${bid}$`));
        await m.page.getByRole('heading', { level: 1, name: 'Harbor Mortgage' }).waitFor();
      });
      expectNoConsoleErrors(m);
      await ctx.close();
    }, 180_000);

    it('onboarding has a header with sign-out', async () => {
      const fresh = await signUp(server, { verified: true });
      const ctx = await newContext(browser, PHONE);
      const m = await openPage(ctx);
      await step(m.page, 'onboarding', async () => {
        await signInThroughUi(m.page, server.url, fresh.email, fresh.password);
        await m.page.waitForURL(/\/onboarding$/);
        await m.page.getByRole('heading', { name: 'Welcome to Capto' }).waitFor();
        expect(await m.page.title()).toBe('Welcome · Capto');
        await expectAccessible(m.page, 'onboarding');
        await screenshot(m.page, 'workbench-onboarding-390');
        await m.page.getByRole('button', { name: 'Sign out' }).click();
        await m.page.waitForURL(/\/signin/);
      });
      expectNoConsoleErrors(m);
      await ctx.close();
    });

    it('the demo workspace has loan files with borrowers, partners and milestones', async () => {
      const ctx = await newContext(browser, DESKTOP);
      const d = await openPage(ctx);
      await step(d.page, 'demo-loan-files', async () => {
        await d.page.goto(`${server.url}/`);
        await d.page.getByRole('button', { name: 'Try the demo' }).click();
        await d.page.getByTestId('demo-banner').waitFor({ timeout: 30_000 });
        await d.page.getByRole('link', { name: 'Pipeline', exact: true }).click();
        const funded = d.page.locator('[data-stage="funded"] .deal-card a.deal-title').first();
        await funded.waitFor();
        // A full board still scrolls only inside itself.
        const wide = await d.page.evaluate(() => ({
          page: document.documentElement.scrollWidth,
          window: window.innerWidth,
          culprits: Array.from(document.querySelectorAll('body *'))
            .filter(
              (e) =>
                !e.closest('.kanban') &&
                getComputedStyle(e).position !== 'absolute' &&
                e.getBoundingClientRect().right > window.innerWidth + 1,
            )
            .slice(0, 5)
            .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`),
        }));
        expect(wide).toMatchObject({ culprits: [] });
        expect(wide.page).toBeLessThanOrEqual(wide.window);
        await screenshot(d.page, 'workbench-demo-pipeline-1366');
        await funded.click();
        await d.page.getByTestId('milestones-progress').getByText('7 of 7 reached').waitFor();
        const facts = d.page.getByTestId('loan-file');
        expect(await facts.locator('dd').first().getByRole('link').count()).toBe(1);
        await screenshot(d.page, 'workbench-demo-deal-1366');
        // The demo cannot connect a Business Profile: the refusal is final, so no "Try again".
        await d.page.getByRole('link', { name: 'Business Profile', exact: true }).click();
        const refusal = d.page.getByRole('alert').filter({ hasText: 'The demo workspace cannot do this' });
        await refusal.waitFor();
        expect(await refusal.getByRole('button', { name: 'Try again' }).count()).toBe(0);
      });
      const counts = await asOwner(server.engine, (c) =>
        c.query<{ partners: number; co: number; addresses: number }>(
          `SELECT count(partner_id)::int AS partners, count(co_borrower_id)::int AS co,
                  count(*) FILTER (WHERE property_address <> '')::int AS addresses
             FROM app.deals d JOIN app.businesses b ON b.id = d.business_id WHERE b.is_demo`,
        ),
      );
      expect(counts.rows[0]!.partners).toBeGreaterThan(0);
      expect(counts.rows[0]!.co).toBeGreaterThan(0);
      expect(counts.rows[0]!.addresses).toBe(40);
      expectNoConsoleErrors(d);
      await ctx.close();
    });
  },
);
