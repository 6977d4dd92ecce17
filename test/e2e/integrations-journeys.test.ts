// Settings → Integrations and the inbox in Chromium: add a Twilio number,
// make it the default, remove it and read the audit rows, set its send rate; send an SMS through the local
// Twilio fake and watch the signed inbound reply (and a STOP) arrive; a member sees the
// numbers but none of the controls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startFakeOidc, type FakeOidc } from '../fakes/oidc.ts';
import { startTwilioFake, type FakeAccount, type TwilioFake } from '../fakes/twilio.ts';
import { signUp, type SignedUpUser } from '../support/auth.ts';
import { addMember } from '../support/factories.ts';
import { request } from '../support/http.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { verifyEmail } from '../support/tenancy.ts';
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
import { signInThroughUi, step } from './flows.ts';

const MAIN_NUMBER = '+14155238886';
const SECOND_NUMBER = '+14155238887';
const BORROWER_PHONE = '+12024561111';

describe.skipIf(e2eSkipReason !== null)(
  `web: integrations and inbox journeys${e2eSkipReason ? ` — skipped: ${e2eSkipReason}` : ''}`,
  () => {
    let server: TestServer;
    let twilio: TwilioFake;
    let idp: FakeOidc;
    let account: FakeAccount;
    let browser: Browser;
    let context: BrowserContext;
    let t: TrackedPage;
    let page: Page;
    let owner: SignedUpUser;
    let bid = '';
    let contactId = '';

    beforeAll(async () => {
      const started = Date.now();
      const mark = (what: string) => console.log(`[e2e setup] ${what} after ${Date.now() - started} ms`);
      ensureWebBuilt();
      mark('web built');
      twilio = await startTwilioFake();
      account = twilio.addAccount();
      idp = await startFakeOidc();
      server = await startTestServer({
        ...E2E_ENV,
        TWILIO_API_BASE: twilio.url,
        GOOGLE_CLIENT_ID: idp.clientId,
        GOOGLE_CLIENT_SECRET: idp.clientSecret,
        GOOGLE_ISSUER: idp.issuer,
      });
      mark('server started');
      owner = await signUp(server, { verified: true });
      const business = await request(`${server.url}/api/businesses`, {
        body: { name: 'Bayside Loans' },
        token: owner.accessToken,
      });
      bid = business.json.id;
      const contact = await request(`${server.url}/api/businesses/${bid}/contacts`, {
        body: { first_name: 'Rosa', last_name: 'Parks', phone: BORROWER_PHONE },
        token: owner.accessToken,
      });
      expect(contact.status).toBe(201);
      contactId = contact.json.id;
      browser = await launchBrowser();
      context = await newContext(browser);
      t = await openPage(context);
      page = t.page;
      mark('browser ready');
      await signInThroughUi(page, server.url, owner.email, owner.password);
      mark('signed in');
    }, 300_000);
    afterAll(async () => {
      await context?.close();
      await browser?.close();
      await server?.stop();
      await twilio?.close();
      await idp?.close();
    });

    async function addNumber(name: string, phone: string): Promise<void> {
      const form = page.getByRole('form', { name: 'Add a Twilio number' });
      await form.getByLabel('Name').fill(name);
      await form.getByLabel('Phone number').fill(phone);
      await form.getByLabel('Account SID').fill(account.sid);
      await form.getByLabel('Auth token').fill(account.authToken);
      await form.getByRole('button', { name: 'Add number' }).click();
      await page.getByRole('status').getByText(`${name} was added`).waitFor();
      // The token is write-only: the form forgets it and the page never shows it.
      expect(await form.getByLabel('Auth token').inputValue()).toBe('');
    }

    it('adds Twilio numbers with their webhook URLs, sets the default, removes one, and shows the audit rows', async () => {
      await step(page, 'integrations', async () => {
        await page.goto(`${server.url}/b/${bid}/settings/integrations`);
        await page.getByText('No Twilio numbers yet').waitFor();
        await addNumber('Main line', MAIN_NUMBER);
        expect(await page.getByTestId('sms-webhook-url').first().innerText()).toMatch(
          new RegExp(`^${server.url}/webhooks/twilio/[0-9a-f-]{36}/sms$`),
        );
        await addNumber('Spare line', SECOND_NUMBER);
        const rows = page.getByTestId('twilio-configs').locator('tbody tr');
        await rows.nth(1).waitFor();
        expect(await page.content()).not.toContain(account.authToken);

        const spare = rows.filter({ hasText: 'Spare line' });
        await spare.getByRole('button', { name: /Set default/ }).click();
        await spare.getByText('Default').waitFor();
        await spare.getByRole('button', { name: /Remove/ }).click();
        const dialog = page.getByRole('dialog', { name: 'Remove this Twilio number?' });
        await dialog.getByRole('button', { name: 'Remove number' }).click();
        await rows.filter({ hasText: 'Spare line' }).waitFor({ state: 'detached' });

        const audit = page.getByTestId('audit-log');
        await audit.locator('tr[data-action="twilio.config.removed"]').waitFor();
        expect(await audit.locator('tr[data-action="twilio.config.added"]').count()).toBe(2);
        expect(await audit.locator('tr[data-action="twilio.config.default_set"]').count()).toBeGreaterThanOrEqual(1);
        expect(await audit.locator('tr[data-action="twilio.config.removed"]').count()).toBe(1);
        expect(await audit.locator('tbody tr').first().innerText()).toContain(owner.email);
        // The spare line was removed, so the main line must be the default again for sending.
        const main = rows.filter({ hasText: 'Main line' });
        if ((await main.getByText('Default').count()) === 0) {
          await main.getByRole('button', { name: /Set default/ }).click();
          await main.getByText('Default').waitFor();
        }
        // The number's send rate (owners/admins): saved, audited, and what the API reports.
        const rate = page.getByRole('form', { name: 'Send rate of Main line' });
        expect(await rate.getByLabel('Texts per second').inputValue()).toBe('1');
        await rate.getByLabel('Texts per second').fill('5');
        await rate.getByRole('button', { name: /Save rate/ }).click();
        await audit.locator('tr[data-action="twilio.config.updated"]').waitFor();
        const saved = await request(`${server.url}/api/businesses/${bid}/integrations/twilio`, {
          token: owner.accessToken,
        });
        expect(
          saved.json.items.find((c: { friendly_name: string }) => c.friendly_name === 'Main line').messages_per_second,
        ).toBe(5);
        await screenshot(page, 'settings-integrations');
      });
      expectNoConsoleErrors(t);
    });

    it('sends an SMS and shows the inbound reply, then the STOP opt-out', async () => {
      await step(page, 'inbox', async () => {
        await page.goto(`${server.url}/b/${bid}/contacts/${contactId}`);
        await page.getByRole('link', { name: 'Start a conversation' }).click();
        await page.getByLabel('First message').fill('Hi Rosa, your rate lock is ready.');
        await page.getByRole('button', { name: 'Send' }).click();
        await page.waitForURL(/\/inbox\/[0-9a-f-]{36}$/);
        await page.locator('.msg[data-direction="outbound"]', { hasText: 'your rate lock is ready' }).waitFor();
        // The outbox delivers it in the background; the inbox follows its status to delivered.
        await page
          .locator('.msg[data-direction="outbound"][data-status="sending"]', { hasText: 'your rate lock is ready' })
          .waitFor({ timeout: 15_000 });
        const sent = twilio.messages.find((m) => m.to === BORROWER_PHONE && m.body.includes('rate lock'));
        expect(sent).toBeDefined();
        expect((await twilio.deliverStatus(sent!.sid, 'delivered')).status).toBe(200);
        await page
          .locator('.msg[data-direction="outbound"][data-status="delivered"]', { hasText: 'your rate lock is ready' })
          .waitFor({ timeout: 15_000 });

        const configs = await request(`${server.url}/api/businesses/${bid}/integrations/twilio`, {
          token: owner.accessToken,
        });
        const main = (configs.json.items as Array<{ phone_number: string; webhooks: { sms: string } }>).find(
          (c) => c.phone_number === MAIN_NUMBER,
        )!;
        const reply = await twilio.sendInbound(main.webhooks.sms, account, {
          from: BORROWER_PHONE,
          to: MAIN_NUMBER,
          body: 'Great, call me at 5',
        });
        expect(reply.status).toBe(200);
        await page
          .locator('.msg[data-direction="inbound"]', { hasText: 'Great, call me at 5' })
          .waitFor({ timeout: 15_000 });
        await screenshot(page, 'inbox');

        await twilio.sendInbound(main.webhooks.sms, account, { from: BORROWER_PHONE, to: MAIN_NUMBER, body: 'STOP' });
        await page.getByTestId('opted-out').waitFor({ timeout: 15_000 });
        expect(await page.getByLabel('Message').isDisabled()).toBe(true);
      });
      expectNoConsoleErrors(t);
    });

    it('connects and disconnects Google, each recorded in the audit log', async () => {
      await step(page, 'google-connection', async () => {
        idp.setIdentity({ sub: 'google-sub-bayside', email: 'bayside.calendar@example.test', email_verified: true });
        await page.goto(`${server.url}/b/${bid}/settings/integrations`);
        await page.getByRole('button', { name: 'Connect Google' }).click();
        // Consent at the (fake) provider, back through the server's callback, into Settings.
        await page.waitForURL(new RegExp(`/b/${bid}/settings/integrations\\?google=connected$`), { timeout: 30_000 });
        await page.getByText('Google is connected.').waitFor();
        await page.getByTestId('google-email').getByText('bayside.calendar@example.test').waitFor();
        await page.getByTestId('audit-log').locator('tr[data-action="google.connected"]').waitFor();
        await page.getByRole('button', { name: 'Disconnect Google' }).click();
        await page
          .getByRole('dialog', { name: 'Disconnect Google?' })
          .getByRole('button', { name: 'Disconnect' })
          .click();
        await page.getByRole('button', { name: 'Connect Google' }).waitFor();
        await page.getByTestId('audit-log').locator('tr[data-action="google.disconnected"]').waitFor();
      });
      expectNoConsoleErrors(t);
    });

    it('signs in with Google (Continue with Google)', async () => {
      const googleContext = await newContext(browser);
      const g = await openPage(googleContext);
      await step(g.page, 'google-sign-in', async () => {
        idp.setIdentity({ sub: 'google-sub-new-officer', email: 'new.officer@example.test', email_verified: true });
        await g.page.goto(`${server.url}/signin`);
        await g.page.getByRole('link', { name: /Continue with Google/ }).click();
        await g.page.waitForURL(/\/onboarding$/, { timeout: 30_000 });
        await g.page.getByText('Signed in as new.officer@example.test').waitFor();
      });
      expectNoConsoleErrors(g);
      await googleContext.close();
    });

    it('shows a member the numbers but no Twilio controls and no audit log', async () => {
      const member = await signUp(server, {});
      await verifyEmail(server.engine, member.userId);
      await addMember(server.engine, bid, member.userId, 'member');
      const memberContext = await newContext(browser);
      const m = await openPage(memberContext);
      await step(m.page, 'member-integrations', async () => {
        await signInThroughUi(m.page, server.url, member.email, member.password);
        await m.page.goto(`${server.url}/b/${bid}/settings/integrations`);
        await m.page.getByTestId('twilio-configs').getByText('Main line').waitFor();
        expect(await m.page.getByRole('form', { name: 'Add a Twilio number' }).count()).toBe(0);
        expect(await m.page.getByRole('button', { name: /Remove|Set default|Save rate/ }).count()).toBe(0);
        await m.page.getByTestId('twilio-configs').getByText('5/s').waitFor();
        expect(await m.page.getByTestId('sms-webhook-url').count()).toBe(0);
        expect(await m.page.getByTestId('audit-log').count()).toBe(0);
        await m.page.getByText('The integration audit log is visible to owners and admins.').waitFor();
        await screenshot(m.page, 'settings-integrations-member');
      });
      expectNoConsoleErrors(m);
      await memberContext.close();
    });
  },
);
