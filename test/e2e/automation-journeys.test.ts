// Automations in Chromium (docs/ARCHITECTURE.md §25): the empty screen offers the recipes;
// "Speed to lead" made from its recipe and edited in the builder (its first wait shortened,
// a step added and removed), activated; a contact added through the UI gets the recipe's
// text at the Twilio fake and the run shows on the contact's timeline; a reply from the
// contact's number ends the run (exited, replied) on the automation's page and the timeline;
// pause; the list's live counts; the screens at 1366 and 390 px with axe; a member sees it
// all read-only. No clock is needed: the recipe texts at once and the reply comes before its
// first wait ends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startTwilioFake, type FakeAccount, type TwilioFake } from '../fakes/twilio.ts';
import { signUp } from '../support/auth.ts';
import { addMember } from '../support/factories.ts';
import { e2eSkipReason, expectAccessible, expectNoConsoleErrors, newContext, openPage, screenshot } from './browser.ts';
import { addTwilioNumber, signInThroughUi, startJourney, step, until, type Journey } from './flows.ts';

const OUR_NUMBER = '+14155238890';
const LEAD_PHONE = '+12024561234';

describe.skipIf(e2eSkipReason !== null)(
  `web: automations journey${e2eSkipReason ? ` — skipped: ${e2eSkipReason}` : ''}`,
  () => {
    let twilio: TwilioFake;
    let account: FakeAccount;
    let j: Journey;
    let page: Page;
    let automationId = '';
    let contactId = '';

    beforeAll(async () => {
      twilio = await startTwilioFake();
      account = twilio.addAccount();
      j = await startJourney({
        business: 'Bayside Loans',
        viewport: { width: 1366, height: 900 },
        // Quiet hours off: the journey runs at any hour of the machine's day.
        env: { TWILIO_API_BASE: twilio.url, CAPTO_ALLOW_PRIVATE_HOSTS: 'on', CAPTO_SMS_QUIET_HOURS: 'off' },
      });
      page = j.page;
      await addTwilioNumber(j, account, OUR_NUMBER);
    }, 300_000);
    afterAll(async () => {
      await j?.close();
      await twilio?.close();
    }, 120_000);

    it('offers the recipes on the empty screen and makes "Speed to lead" a draft', async () => {
      await step(page, 'automation-recipe', async () => {
        await page.goto(`${j.server.url}/b/${j.bid}/automations`);
        await page.getByRole('heading', { level: 1, name: 'Automations' }).waitFor();
        await page.getByText('No automations yet.').waitFor();
        // allInnerTexts() does not wait: the recipes may render after the empty state.
        await page.getByTestId('recipes').getByRole('heading', { level: 3, name: 'Speed to lead' }).waitFor();
        expect(await page.getByTestId('recipes').getByRole('heading', { level: 3 }).allInnerTexts()).toEqual([
          'Speed to lead',
          'Application nudge',
          'Pre-approval expiring',
          'Closing anniversary',
          'Birthday',
          'Ask for a review after funding',
        ]);
        expect(await page.title()).toBe('Automations · Capto');
        await expectAccessible(page, 'automations (empty)');
        await screenshot(page, 'automations-empty');

        await page.getByRole('button', { name: 'Use Speed to lead' }).click();
        await page.waitForURL(/\/automations\/[0-9a-f-]{36}$/);
        automationId = /\/automations\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
        await page.getByRole('heading', { level: 1, name: 'Speed to lead' }).waitFor();
        expect(await page.getByTestId('automation-status').innerText()).toBe('draft');
        const what = page.getByRole('region', { name: 'What it does' });
        expect(await what.innerText()).toContain('When: A contact is created');
        expect(await what.locator('ol li').allInnerTexts()).toEqual([
          'Text "Speed to lead: first"',
          'Wait 1 hour',
          'Task "Call the new lead: no reply to the first text" for the contact\'s owner, due the same day',
          'Wait 1 day',
          'Text "Speed to lead: day2"',
          'Wait 3 days',
          'Text "Speed to lead: day5"',
        ]);
        await page.getByText('Nobody is enrolled yet. Activate the automation to start enrolling.').waitFor();
      });
      expectNoConsoleErrors(j.t);
    }, 120_000);

    it('edits it in the builder: a shorter first wait, a step added and removed, a missing template caught', async () => {
      await step(page, 'automation-builder', async () => {
        await page.getByRole('button', { name: 'Edit' }).click();
        const builder = page.getByRole('form', { name: 'Automation builder' });
        expect(await builder.getByLabel('Trigger').inputValue()).toBe('contact_created');
        const wait = builder.getByRole('group', { name: 'Step 2: Wait' });
        expect(await wait.getByLabel('Wait for').inputValue()).toBe('1');
        expect(await wait.getByLabel('Unit').inputValue()).toBe('hours');
        await wait.getByLabel('Wait for').fill('20');
        await wait.getByLabel('Unit').selectOption('minutes');

        // A step added without its template is caught before anything is sent.
        await builder.getByLabel('Step type').selectOption({ label: 'Add to a list' });
        await builder.getByRole('button', { name: 'Add step' }).click();
        await builder.getByRole('group', { name: 'Step 8: Add to a list' }).waitFor();
        await builder.getByRole('button', { name: 'Save changes' }).click();
        await builder.getByRole('alert').getByText('Step 8: Choose a list.').waitFor();
        await expectAccessible(page, 'automation builder');
        await screenshot(page, 'automation-builder');
        await builder.getByRole('button', { name: 'Remove step 8' }).click();
        expect(await builder.getByRole('group', { name: /^Step \d+:/ }).count()).toBe(7);

        await builder.getByRole('button', { name: 'Save changes' }).click();
        await page.getByRole('status').getByText('Saved as version 2.').waitFor();
        expect(await page.getByRole('region', { name: 'What it does' }).locator('ol li').nth(1).innerText()).toBe(
          'Wait 20 minutes',
        );
      });
      const stored = await j.api('GET', `/automations/${automationId}`);
      expect(stored.json).toMatchObject({ version: 2, status: 'draft' });
      expect(stored.json.steps[1]).toEqual({ type: 'wait', amount: 20, unit: 'minutes' });
      expectNoConsoleErrors(j.t);
    }, 120_000);

    it('activates it; a contact added through the UI gets the text and the run shows on the timeline', async () => {
      await step(page, 'automation-run', async () => {
        await page.getByRole('button', { name: 'Activate' }).click();
        await page.getByTestId('automation-status').getByText('active').waitFor();
        await page.getByRole('button', { name: 'Pause' }).waitFor();

        await page.getByRole('link', { name: 'Contacts', exact: true }).click();
        await page.getByRole('button', { name: 'New contact' }).click();
        const form = page.getByRole('form', { name: 'New contact' });
        await form.getByLabel('First name').fill('Rosa');
        await form.getByLabel('Last name').fill('Diaz');
        await form.getByLabel('Mobile phone').fill(LEAD_PHONE);
        await form.getByRole('button', { name: 'Save contact' }).click();
        await page.getByRole('link', { name: 'Rosa Diaz' }).click();
        await page.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);
        contactId = /\/contacts\/([0-9a-f-]{36})$/.exec(page.url())![1]!;

        // The job picks the trigger up within its 15-second grid and texts through the outbox.
        await until(() => twilio.messages.some((m) => m.to === LEAD_PHONE), 45_000, 'the text at the Twilio fake');
        const text = twilio.messages.find((m) => m.to === LEAD_PHONE)!;
        expect(text.from).toBe(OUR_NUMBER);
        expect(text.body).toBe(
          'Hi Rosa, this is Bayside Loans. Thanks for reaching out! When is a good time for a quick call about your loan?',
        );

        await page.reload();
        const timeline = page.getByRole('region', { name: 'Timeline' });
        await timeline.getByText('Speed to lead · send sms done').waitFor();
        await timeline.getByText('Speed to lead · enrolled').waitFor();
        // The Automations card says where her run is.
        const card = page.getByTestId('contact-automations');
        await card.getByRole('link', { name: 'Speed to lead' }).waitFor();
        await card.getByText('Next: step 3 of 7').waitFor();
        await screenshot(page, 'automation-contact-timeline');

        await page.goto(`${j.server.url}/b/${j.bid}/automations/${automationId}`);
        const row = page.getByTestId('enrollments').getByRole('row', { name: /Rosa Diaz/ });
        await row.getByText('Next: step 3 of 7 · Create a task').waitFor();
        expect(await row.getByTestId('enrollment-state').innerText()).toBe('active');
        await page.getByTestId('automation-counts').getByText('1 active').waitFor();
      });
      expectNoConsoleErrors(j.t);
    }, 120_000);

    it('a reply from the contact’s number ends the run: exited (replied) on the page and the timeline', async () => {
      await step(page, 'automation-exit', async () => {
        const configs = await j.api('GET', '/integrations/twilio');
        const sms = (configs.json.items as Array<{ phone_number: string; webhooks: { sms: string } }>).find(
          (c) => c.phone_number === OUR_NUMBER,
        )!.webhooks.sms;
        const reply = await twilio.sendInbound(sms, account, {
          from: LEAD_PHONE,
          to: OUR_NUMBER,
          body: 'Yes, call me after 5',
        });
        expect(reply.status).toBe(200);
        // The automation's page polls while active: the exit appears without a reload.
        const state = page.getByTestId('enrollments').getByTestId('enrollment-state');
        await state.getByText('exited (replied)').waitFor({ timeout: 15_000 });
        await page.getByTestId('automation-counts').getByText('0 active · 0 held · 0 completed · 1 exited').waitFor();
        await expectAccessible(page, 'automation detail');
        await screenshot(page, 'automation-detail-exited');

        await page.getByRole('link', { name: 'Rosa Diaz' }).click();
        await page.getByRole('region', { name: 'Timeline' }).getByText('Speed to lead · exited (replied)').waitFor();
        await page.getByTestId('contact-automations').getByText('exited (replied)').waitFor();
        await screenshot(page, 'automation-contact-exited');

        // Nothing more was sent: one text to her in all.
        expect(twilio.messages.filter((m) => m.to === LEAD_PHONE)).toHaveLength(1);
      });
      const enrollments = await j.api('GET', `/automations/${automationId}/enrollments`);
      expect(enrollments.json.items).toMatchObject([
        { contact_id: contactId, state: 'exited', exit_reason: 'replied', version: 2 },
      ]);
      expectNoConsoleErrors(j.t);
    }, 120_000);

    it('pauses it, and the list shows the status and the counts', async () => {
      await step(page, 'automation-pause', async () => {
        await page.goto(`${j.server.url}/b/${j.bid}/automations/${automationId}`);
        await page.getByRole('button', { name: 'Pause' }).click();
        await page.getByTestId('automation-status').getByText('paused').waitFor();
        await page.getByRole('status').getByText('Paused: running enrollments hold at their step.').waitFor();
        await page.getByRole('link', { name: '← Automations' }).click();
        const row = page.getByTestId('automations').getByRole('row', { name: /Speed to lead/ });
        await row.getByText('paused').waitFor();
        expect(await row.getByTestId('automation-counts').innerText()).toContain('1 exited');
        await screenshot(page, 'automations-list');
      });
      expectNoConsoleErrors(j.t);
    }, 120_000);

    it('at 390 px: the list and the enrollments fit a phone; a member sees them read-only', async () => {
      const member = await signUp(j.server, { verified: true });
      await addMember(j.server.engine, j.bid, member.userId, 'member');
      const context = await newContext(j.browser, { width: 390, height: 844 });
      const m = await openPage(context);
      try {
        await step(m.page, 'automation-390', async () => {
          await signInThroughUi(m.page, j.server.url, member.email, member.password);
          await m.page.goto(`${j.server.url}/b/${j.bid}/automations`);
          await m.page.getByTestId('automations').getByRole('link', { name: 'Speed to lead' }).waitFor();
          expect(await m.page.getByRole('link', { name: 'New automation' }).count()).toBe(0);
          await expectAccessible(m.page, 'automations at 390 px');
          const overflow = await m.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          expect(overflow).toBeLessThanOrEqual(0);
          await screenshot(m.page, 'automations-list-390');
          await m.page.getByTestId('automations').getByRole('link', { name: 'Speed to lead' }).click();
          await m.page.getByText('Only owners and admins change automations.').waitFor();
          expect(await m.page.getByRole('button', { name: /Activate|Pause|Edit/ }).count()).toBe(0);
          await m.page.getByTestId('enrollments').getByText('exited (replied)').waitFor();
          await expectAccessible(m.page, 'automation detail at 390 px');
          await screenshot(m.page, 'automation-detail-390');
        });
        expectNoConsoleErrors(m);
      } finally {
        await context.close();
      }
    }, 120_000);

    it('at 390 px the owner builds a new automation with the notify and AI-draft steps', async () => {
      // Every step's fields stack inside the screen.
      const phone = await newContext(j.browser, { width: 390, height: 844 });
      const o = await openPage(phone);
      try {
        await step(o.page, 'automation-builder-390', async () => {
          await signInThroughUi(o.page, j.server.url, j.owner.email, j.owner.password);
          await o.page.goto(`${j.server.url}/b/${j.bid}/automations/new`);
          const builder = o.page.getByRole('form', { name: 'Automation builder' });
          await builder.getByLabel('Automation name').fill('Welcome');
          // The step types added beside the first ones: notify and an AI draft for review.
          await builder.getByLabel('Step type').selectOption({ label: 'Notify a team member' });
          await builder.getByRole('button', { name: 'Add step' }).click();
          const notify = builder.getByRole('group', { name: 'Step 1: Notify a team member' });
          await notify.getByLabel('Notify', { exact: true }).selectOption({ label: 'Every owner and admin' });
          await notify.getByLabel('Message (optional)').fill('A new lead texted us');
          await builder.getByLabel('Step type').selectOption({ label: 'Draft an AI reply for review' });
          await builder.getByRole('button', { name: 'Add step' }).click();
          await builder.getByRole('group', { name: 'Step 2: Draft an AI reply for review' }).waitFor();
          const overflow = await o.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          expect(overflow).toBeLessThanOrEqual(0);
          await expectAccessible(o.page, 'new automation at 390 px');
          await screenshot(o.page, 'automation-builder-390');
          await builder.getByRole('button', { name: 'Create draft' }).click();
          await o.page.getByRole('heading', { level: 1, name: 'Welcome' }).waitFor();
          expect(await o.page.getByRole('region', { name: 'What it does' }).locator('ol li').allInnerTexts()).toEqual([
            'Notify the owners and admins: "A new lead texted us"',
            'Draft an AI reply for a person to approve (never sent by itself)',
          ]);
        });
        expectNoConsoleErrors(o);
      } finally {
        await phone.close();
      }
    }, 120_000);
  },
);
