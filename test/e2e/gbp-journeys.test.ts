// Business Profile in Chromium (docs/ARCHITECTURE.md §26) against the OpenID provider and the
// Business Profile fakes: without Google the screen says so and links to Settings →
// Integrations; the owner connects Google there (consent at the fake provider), picks the
// location the Google user manages, schedules a post a minute ahead in the business's time
// zone and watches it publish (the fake holds it), saves a draft, edits it, publishes it now and
// deletes it (gone at the fake too), syncs a review the fake holds and replies to
// it (the fake holds the reply); asks a funded deal's borrower for a review from the deal's
// card (the text with the location's review link reaches the Twilio fake; asking again is
// refused with the reason); the screens at 1366 and 390 px with axe; a member sees the
// posts and reviews with no controls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startGoogleBusinessFake, type GoogleBusinessFake } from '../fakes/google-business.ts';
import { startFakeOidc, type FakeOidc } from '../fakes/oidc.ts';
import { startTwilioFake, type TwilioFake } from '../fakes/twilio.ts';
import { signUp } from '../support/auth.ts';
import { addMember } from '../support/factories.ts';
import { e2eSkipReason, expectAccessible, expectNoConsoleErrors, newContext, openPage, screenshot } from './browser.ts';
import { addTwilioNumber, signInThroughUi, startJourney, step, until, type Journey } from './flows.ts';

const ZONE = 'America/Chicago';
const TITLE = 'Lakeside Lending — Downtown';
const POST_TEXT = 'Rates dipped this week: ask us for a free pre-approval review before Friday.';
const REPLY_TEXT = 'Dana, we are sorry for the wait. Our team now calls back within one business day.';
const OUR_NUMBER = '+13125550100';
const BORROWER_PHONE = '+13125550177';

/** `at` as the `datetime-local` value of its minute in `timeZone` (2026-12-05T16:31). */
function localMinute(at: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

const noOverflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

describe.skipIf(e2eSkipReason !== null)(
  `web: Business Profile journey${e2eSkipReason ? ` — skipped: ${e2eSkipReason}` : ''}`,
  () => {
    let idp: FakeOidc;
    let google: GoogleBusinessFake;
    let twilio: TwilioFake;
    let parent = '';
    let j: Journey;
    let page: Page;

    beforeAll(async () => {
      idp = await startFakeOidc();
      google = await startGoogleBusinessFake();
      twilio = await startTwilioFake();
      google.trustIssuer(idp.issuer);
      parent = google.addAccountWithLocation({ title: TITLE }).parent;
      google.addReview(parent, {
        starRating: 'TWO',
        comment: 'Waited a week for a call back.',
        reviewer: { displayName: 'Dana Whitfield' },
      });
      j = await startJourney({
        business: 'Lakeside Lending',
        viewport: { width: 1366, height: 900 },
        env: {
          GOOGLE_CLIENT_ID: idp.clientId,
          GOOGLE_CLIENT_SECRET: idp.clientSecret,
          GOOGLE_ISSUER: idp.issuer,
          GOOGLE_API_BASE: google.url,
          TWILIO_API_BASE: twilio.url,
          CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
          CAPTO_SMS_QUIET_HOURS: 'off',
        },
      });
      page = j.page;
      expect((await j.api('PATCH', '', { time_zone: ZONE })).status).toBe(200);
      await addTwilioNumber(j, twilio.addAccount(), OUR_NUMBER);
    }, 300_000);
    afterAll(async () => {
      await j?.close();
      await google?.close();
      await twilio?.close();
      await idp?.close();
    }, 120_000);

    it('says Google is not connected, connects it in Settings and picks the location', async () => {
      await step(page, 'gbp-connect', async () => {
        await page.goto(`${j.server.url}/b/${j.bid}`);
        await page
          .getByRole('navigation', { name: 'Workspace' })
          .getByRole('link', { name: 'Business Profile' })
          .click();
        await page.getByRole('heading', { level: 1, name: 'Business Profile' }).waitFor();
        expect(await page.title()).toBe('Business Profile · Capto');
        const problem = page.getByTestId('gbp-connection-problem');
        await problem.getByText('Google is not connected to this business.').waitFor();
        await expectAccessible(page, 'business profile (not connected)');

        idp.setIdentity({ sub: 'google-sub-lakeside', email: 'office@lakeside.example', email_verified: true });
        await problem.getByRole('link', { name: 'Settings → Integrations' }).click();
        await page.getByRole('button', { name: 'Connect Google' }).click();
        await page.waitForURL(new RegExp(`/b/${j.bid}/settings/integrations\\?google=connected$`), { timeout: 30_000 });
        await page.getByText('Google is connected.').waitFor();

        await page
          .getByRole('navigation', { name: 'Workspace' })
          .getByRole('link', { name: 'Business Profile' })
          .click();
        const picker = page.getByTestId('gbp-available-locations');
        await picker.getByText('100 N Lake St, Chicago, IL 60601').waitFor();
        await expectAccessible(page, 'business profile (pick a location)');
        await screenshot(page, 'gbp-pick-location');
        await picker
          .getByRole('listitem')
          .filter({ hasText: TITLE })
          .getByRole('button', { name: 'Use this location' })
          .click();
        await page.getByTestId('gbp-location').getByRole('heading', { level: 2, name: TITLE }).waitFor();
        await page.getByText('No posts yet.').waitFor();
        const attached = await j.api('GET', '/google/location');
        expect(attached.json.location.location_name).toBe(
          google.locations.get(parent.split('/locations')[0]!)![0]!.name,
        );
      });
      expectNoConsoleErrors(j.t);
    }, 120_000);

    it('schedules a post a minute ahead in the business time zone and watches it publish', async () => {
      await step(page, 'gbp-post', async () => {
        await page.getByRole('button', { name: 'New post' }).click();
        const form = page.getByRole('form', { name: 'New post' });
        // The counter counts what Google limits; over the limit nothing can be sent.
        await form.getByLabel('Text').fill('x'.repeat(1501));
        expect(await form.getByTestId('gbp-summary-counter').innerText()).toBe('1,501 / 1,500 characters');
        expect(await form.getByRole('button', { name: 'Publish now' }).isDisabled()).toBe(true);
        await form.getByLabel('Text').fill(POST_TEXT);
        expect(await form.getByTestId('gbp-summary-counter').innerText()).toBe(
          `${POST_TEXT.length} / 1,500 characters`,
        );
        await form.getByLabel('Button (optional)').selectOption({ label: 'Learn more' });
        await form.getByLabel('Button link').fill('https://lakeside.example/rates');
        // 30–90 s ahead, to the minute the field holds.
        const at = new Date(Math.floor((Date.now() + 90_000) / 60_000) * 60_000);
        await form.getByLabel(`Publish at (${ZONE})`).fill(localMinute(at, ZONE));
        await expectAccessible(page, 'business profile (new post)');
        await form.getByRole('button', { name: 'Schedule' }).click();
        await page.getByText(`Scheduled for ${localMinute(at, ZONE).replace('T', ' ')} (${ZONE}).`).waitFor();
        const post = page.getByTestId('gbp-calendar').getByTestId('gbp-post').filter({ hasText: POST_TEXT });
        await post.getByTestId('gbp-post-state').getByText('Scheduled').waitFor();
        const day = new Intl.DateTimeFormat(undefined, { timeZone: ZONE, weekday: 'long' }).format(at);
        expect(await page.getByTestId('gbp-calendar').locator('h3').allInnerTexts()).toEqual([
          expect.stringContaining(day),
        ]);
        const stored = (await j.api('GET', '/google/posts')).json.items[0];
        expect(stored.publish_at).toBe(at.toISOString());
        await screenshot(page, 'gbp-post-scheduled');

        await until(() => (google.posts.get(parent) ?? []).length > 0, 120_000, 'the post at Google');
        expect(google.posts.get(parent)).toHaveLength(1);
        expect(google.posts.get(parent)![0]).toMatchObject({
          summary: POST_TEXT,
          topicType: 'STANDARD',
          callToAction: { actionType: 'LEARN_MORE', url: 'https://lakeside.example/rates' },
        });
        await post.getByTestId('gbp-post-state').getByText('Published').waitFor({ timeout: 15_000 });
        await post.getByRole('link', { name: 'View on Google' }).waitFor();
        await expectAccessible(page, 'business profile posts');
        await screenshot(page, 'gbp-posts');
      });
      expectNoConsoleErrors(j.t);
    }, 180_000);

    it('saves a draft, edits it, publishes it now and deletes it (at Google too)', async () => {
      const DRAFT = 'Open house Saturday at our Downtown office.';
      const FINAL = 'Open house Saturday 10–2 at our Downtown office: coffee and rate quotes.';
      await step(page, 'gbp-draft', async () => {
        await page.getByRole('button', { name: 'New post' }).click();
        const form = page.getByRole('form', { name: 'New post' });
        await form.getByLabel('Text').fill(DRAFT);
        await form.getByRole('button', { name: 'Save draft' }).click();
        await page.getByText('Saved as a draft.').waitFor();
        const calendar = page.getByTestId('gbp-calendar');
        expect((await calendar.locator('h3').allInnerTexts())[0]).toBe('Drafts');
        const draft = calendar.getByTestId('gbp-post').filter({ hasText: DRAFT });
        await draft.getByRole('button', { name: 'Edit' }).click();
        const edit = page.getByRole('form', { name: 'Edit post' });
        await edit.getByLabel('Text').fill(FINAL);
        await edit.getByRole('button', { name: 'Publish now' }).click();
        await page.getByText('Publishing to Google now.').waitFor();
        await until(() => (google.posts.get(parent) ?? []).length === 2, 60_000, 'the second post at Google');
        expect(google.posts.get(parent)!.map((p) => p.summary)).toContain(FINAL);
        const published = calendar.getByTestId('gbp-post').filter({ hasText: FINAL });
        await published.getByTestId('gbp-post-state').getByText('Published').waitFor({ timeout: 15_000 });

        await published.getByRole('button', { name: 'Delete' }).click();
        await page
          .getByRole('dialog', { name: 'Delete this post?' })
          .getByRole('button', { name: 'Delete post' })
          .click();
        await page.getByText('Deleting the post at Google.').waitFor();
        await until(() => google.posts.get(parent)!.length === 1, 60_000, 'the post deleted at Google');
        await published.waitFor({ state: 'detached', timeout: 15_000 });
        expect(google.posts.get(parent)![0]!.summary).toBe(POST_TEXT);
      });
      expectNoConsoleErrors(j.t);
    }, 180_000);

    it('syncs the review the fake holds and replies to it', async () => {
      await step(page, 'gbp-review', async () => {
        await page.getByRole('navigation', { name: 'Business Profile' }).getByRole('link', { name: 'Reviews' }).click();
        await page.getByText('No reviews yet.').waitFor();
        await page.getByRole('button', { name: 'Sync now' }).click();
        await page.getByText('Synced: 1 new review.').waitFor();
        const review = page.getByTestId('gbp-review').filter({ hasText: 'Dana Whitfield' });
        await review.getByRole('img', { name: '2 out of 5 stars' }).waitFor();
        await review.getByText('Waited a week for a call back.').waitFor();
        await page.getByLabel('Unanswered only').check();
        await review.waitFor();
        await review.getByRole('button', { name: 'Reply' }).click();
        const form = review.getByRole('form', { name: 'Reply to Dana Whitfield' });
        await form.getByLabel('Your public reply to Dana Whitfield').fill(REPLY_TEXT);
        await expectAccessible(page, 'business profile reviews (reply)');
        await form.getByRole('button', { name: 'Send reply' }).click();
        await until(
          () => google.reviews.get(parent)![0]!.reviewReply?.comment === REPLY_TEXT,
          30_000,
          'the reply at Google',
        );
        // Answered: it leaves the "unanswered" list; unfiltered it shows the reply.
        await page.getByText('Every review has a reply.').waitFor({ timeout: 15_000 });
        await page.getByLabel('Unanswered only').uncheck();
        await review.getByTestId('gbp-reply').getByText(REPLY_TEXT).waitFor();
        await review.getByRole('button', { name: 'Edit reply' }).waitFor();
        await expectAccessible(page, 'business profile reviews');
        await screenshot(page, 'gbp-reviews');
      });
      expectNoConsoleErrors(j.t);
    }, 120_000);

    it("asks a funded deal's borrower for a review from the deal's card, once", async () => {
      const contact = await j.api('POST', '/contacts', {
        first_name: 'Marisol',
        last_name: 'Quinn',
        phone: BORROWER_PHONE,
      });
      expect(contact.status).toBe(201);
      const deal = await j.api('POST', '/deals', {
        title: 'Quinn purchase',
        contact_id: contact.json.id,
        stage: 'funded',
      });
      expect(deal.status).toBe(201);
      const template = await j.api('POST', '/templates', {
        name: 'Review after funding',
        channel: 'sms',
        body: 'Thanks {{ contact.first_name }}! A review helps: {{ business.review_link }}',
      });
      expect(template.status).toBe(201);
      const reviewUri = google.locations.get(parent.split('/locations')[0]!)![0]!.metadata.newReviewUri;

      await step(page, 'gbp-review-request', async () => {
        await page.goto(`${j.server.url}/b/${j.bid}/deals/${deal.json.id}`);
        const card = page.getByRole('form', { name: 'Ask for a review' });
        await card
          .getByTestId('review-last-asked')
          .getByText('The borrower has not been asked for a Google review yet.')
          .waitFor();
        // The only text template with the review link is chosen once the templates load.
        await expect.poll(() => card.getByLabel('Template').inputValue(), { timeout: 10_000 }).toBe(template.json.id);
        await expectAccessible(page, 'deal with the review request card');
        await card.getByRole('button', { name: 'Ask for a review' }).click();
        await card.getByText('Review request queued.').waitFor();
        await card
          .getByTestId('review-last-asked')
          .getByText(/^Last asked .+ by text\.$/)
          .waitFor();
        await until(() => twilio.messages.some((m) => m.to === BORROWER_PHONE), 30_000, 'the review request at Twilio');
        const sent = twilio.messages.filter((m) => m.to === BORROWER_PHONE);
        expect(sent).toHaveLength(1);
        expect(sent[0]!).toMatchObject({ from: OUR_NUMBER, body: `Thanks Marisol! A review helps: ${reviewUri}` });
        await screenshot(page, 'deal-review-request');

        // Asked within the window: the server refuses, the card says why, nothing more is sent.
        await card.getByRole('button', { name: 'Ask for a review' }).click();
        await card
          .getByRole('alert')
          .getByText(/asked for a review within the last 180 days/)
          .waitFor();
        expect(twilio.messages.filter((m) => m.to === BORROWER_PHONE)).toHaveLength(1);
        const asked = await j.api('GET', `/gbp/review-requests?deal_id=${deal.json.id}`);
        expect(asked.json.items).toHaveLength(1);
      });
      expectNoConsoleErrors(j.t);
    }, 120_000);

    it('at 390 px: the owner writes a post; a member reads posts and reviews with no controls', async () => {
      const phone = await newContext(j.browser, { width: 390, height: 844 });
      const o = await openPage(phone);
      try {
        await step(o.page, 'gbp-owner-390', async () => {
          await signInThroughUi(o.page, j.server.url, j.owner.email, j.owner.password);
          await o.page.goto(`${j.server.url}/b/${j.bid}/business-profile`);
          await o.page.getByRole('button', { name: 'New post' }).click();
          const form = o.page.getByRole('form', { name: 'New post' });
          await form.getByLabel('Type').selectOption({ label: 'Event' });
          await form.getByLabel('Event title').waitFor();
          expect(await noOverflow(o.page)).toBeLessThanOrEqual(0);
          await expectAccessible(o.page, 'business profile new event at 390 px');
          await screenshot(o.page, 'gbp-new-event-390');
        });
        expectNoConsoleErrors(o);
      } finally {
        await phone.close();
      }

      const member = await signUp(j.server, { verified: true });
      await addMember(j.server.engine, j.bid, member.userId, 'member');
      const context = await newContext(j.browser, { width: 390, height: 844 });
      const m = await openPage(context);
      try {
        await step(m.page, 'gbp-member-390', async () => {
          await signInThroughUi(m.page, j.server.url, member.email, member.password);
          await m.page.goto(`${j.server.url}/b/${j.bid}/business-profile`);
          await m.page.getByTestId('gbp-location').getByRole('heading', { name: TITLE }).waitFor();
          const post = m.page.getByTestId('gbp-post').filter({ hasText: POST_TEXT });
          await post.getByText('Published').waitFor();
          expect(
            await m.page.getByRole('button', { name: /New post|Edit|Delete|Change location|Detach/ }).count(),
          ).toBe(0);
          expect(await noOverflow(m.page)).toBeLessThanOrEqual(0);
          await expectAccessible(m.page, 'business profile posts at 390 px');
          await screenshot(m.page, 'gbp-posts-390');
          await m.page.goto(`${j.server.url}/b/${j.bid}/business-profile/reviews`);
          await m.page.getByTestId('gbp-review').getByTestId('gbp-reply').getByText(REPLY_TEXT).waitFor();
          await m.page.getByText('Owners and admins reply to reviews.').waitFor();
          expect(await m.page.getByRole('button', { name: /Reply|Edit reply/ }).count()).toBe(0);
          await m.page.getByRole('button', { name: 'Sync now' }).waitFor();
          expect(await noOverflow(m.page)).toBeLessThanOrEqual(0);
          await expectAccessible(m.page, 'business profile reviews at 390 px');
          await screenshot(m.page, 'gbp-reviews-390');
        });
        expectNoConsoleErrors(m);
      } finally {
        await context.close();
      }
    }, 180_000);
  },
);
