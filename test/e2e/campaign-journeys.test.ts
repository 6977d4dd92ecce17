// Outreach in Chromium: the time zone (IANA's current names) and the postal address in
// Settings → General, an SMTP sender in Settings → Integrations, templates with merge fields
// previewed for a contact (and an SMS's segments), an email campaign and an SMS campaign
// reviewed, sent and watched to the end, and an unsubscribe from the link of a received email.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startSmtpFake, type SmtpFake } from '../fakes/smtp.ts';
import { startTwilioFake, type TwilioFake } from '../fakes/twilio.ts';
import { signUp, type SignedUpUser } from '../support/auth.ts';
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
  type TrackedPage,
} from './browser.ts';
import { signInThroughUi, step } from './flows.ts';

const NUMBER = '+14155238890';

describe.skipIf(e2eSkipReason !== null)(
  `web: templates and campaigns journey${e2eSkipReason ? ` — skipped: ${e2eSkipReason}` : ''}`,
  () => {
    let server: TestServer;
    let smtp: SmtpFake;
    let twilio: TwilioFake;
    let browser: Browser;
    let context: BrowserContext;
    let t: TrackedPage;
    let page: Page;
    let owner: SignedUpUser;
    let bid = '';
    const listName = 'Spring buyers';

    const api = (method: string, path: string, body?: unknown) =>
      request<any>(`${server.url}/api/businesses/${bid}${path}`, { method, token: owner.accessToken, body });

    beforeAll(async () => {
      ensureWebBuilt();
      [smtp, twilio] = await Promise.all([startSmtpFake(), startTwilioFake()]);
      const account = twilio.addAccount();
      server = await startTestServer({
        ...E2E_ENV,
        TWILIO_API_BASE: twilio.url,
        CAPTO_ALLOW_PRIVATE_HOSTS: 'on',
        CAPTO_SMS_QUIET_HOURS: 'off',
        CAPTO_CAMPAIGN_POLL_MS: '200',
      });
      owner = await signUp(server, { verified: true });
      bid = (
        await request<any>(`${server.url}/api/businesses`, {
          body: { name: 'Bayside Loans' },
          token: owner.accessToken,
        })
      ).json.id;
      // The audience: a list of three borrowers (the list screens have their own journey).
      const list = await api('POST', '/lists', { name: listName });
      const ids: string[] = [];
      for (const [first, email, phone] of [
        ['Rosa', 'rosa@example.com', '+12024561001'],
        ['Ming', 'ming@example.com', '+12024561002'],
        ['Ade', 'ade@example.com', '+12024561003'],
      ]) {
        ids.push((await api('POST', '/contacts', { first_name: first, email, phone })).json.id);
      }
      expect((await api('POST', `/lists/${list.json.id}/members`, { contact_ids: ids })).status).toBeLessThan(300);
      expect(
        (
          await api('POST', '/integrations/twilio', {
            friendly_name: 'Main',
            account_sid: account.sid,
            auth_token: account.authToken,
            phone_number: NUMBER,
          })
        ).status,
      ).toBe(201);
      browser = await launchBrowser();
      context = await newContext(browser);
      t = await openPage(context);
      page = t.page;
      await signInThroughUi(page, server.url, owner.email, owner.password);
    }, 300_000);
    afterAll(async () => {
      await context?.close();
      await browser?.close();
      await server?.stop();
      await smtp?.close();
      await twilio?.close();
    });

    it('sets the time zone and the postal address and adds an SMTP sender', async () => {
      await step(page, 'settings', async () => {
        // The time zones offered are IANA's current names (Chromium's ICU lists Asia/Calcutta),
        // and a business on an old spelling still sees it selected.
        expect((await api('PATCH', '', { time_zone: 'Asia/Calcutta' })).status).toBe(200);
        await page.goto(`${server.url}/b/${bid}/settings/general`);
        const zone = page.getByLabel('Time zone');
        await page.getByLabel('Postal address').waitFor();
        expect(await zone.inputValue()).toBe('Asia/Calcutta');
        const offered = await zone.locator('option').allTextContents();
        expect(offered).toEqual(expect.arrayContaining(['Asia/Kolkata', 'Europe/Kyiv', 'America/Nuuk', 'UTC']));
        await zone.selectOption('Asia/Kolkata');
        await page.getByRole('button', { name: 'Save' }).click();
        await page.getByText('Saved.').waitFor();
        expect((await api('GET', '')).json.time_zone).toBe('Asia/Kolkata');
        await page.reload();
        await page.getByLabel('Postal address').waitFor();
        expect(await page.getByLabel('Time zone').locator('option').allTextContents()).not.toContain('Asia/Calcutta');
        await page.getByLabel('Time zone').selectOption('America/New_York');
        await page.getByLabel('Postal address').fill('1 Harbor Way, Bayside, CA 94000');
        await page.getByRole('button', { name: 'Save' }).click();
        await page.getByText('Saved.').waitFor();
        expect((await api('GET', '')).json.time_zone).toBe('America/New_York');
        await page.goto(`${server.url}/b/${bid}/settings/integrations`);
        const form = page.getByRole('form', { name: 'Add an SMTP sender' });
        await form.getByLabel('From name').fill('Bayside Loans');
        await form.getByLabel('From email').fill('news@bayside.example');
        await form.getByLabel('SMTP host').fill('127.0.0.1');
        await form.getByLabel('Port').fill(String(smtp.port));
        await form.getByLabel('Security').selectOption('none');
        await form.getByLabel('Username').fill(smtp.username);
        await form.getByLabel('SMTP password').fill(smtp.password);
        await form.getByRole('button', { name: 'Add sender' }).click();
        await page.getByTestId('email-senders').locator('tbody tr').first().waitFor();
        expect(await page.getByTestId('email-senders').innerText()).toContain('news@bayside.example');
        expect(await page.content()).not.toContain(smtp.password);
        await screenshot(page, 'settings-email-senders');
      });
      expectNoConsoleErrors(t);
    });

    it('writes templates with merge fields and previews them for a contact', async () => {
      await step(page, 'templates', async () => {
        await page.goto(`${server.url}/b/${bid}/templates`);
        await page.getByRole('button', { name: 'New template' }).click();
        const form = page.getByRole('form', { name: 'New template' });
        await form.getByLabel('Template name').fill('Spring email');
        await form.getByLabel('Subject').fill('Rates for {{ contact.first_name | default: "you" }}');
        await form.getByLabel('Body').fill('Hi **{{ contact.first_name }}**,\n\nRates dropped at {{ business.name }}.');
        await page.getByLabel('Preview for').selectOption({ label: 'Rosa' });
        await page.getByRole('button', { name: 'Preview', exact: true }).click();
        await page.getByTestId('template-preview').getByText('Subject: Rates for Rosa').waitFor();
        expect(await page.getByTestId('template-preview').innerText()).toContain('Rates dropped at Bayside Loans.');
        await screenshot(page, 'template-preview');
        await form.getByRole('button', { name: 'Save template' }).click();
        await page.getByTestId('templates').getByRole('cell', { name: 'Spring email', exact: true }).waitFor();

        await page.getByRole('button', { name: 'New template' }).click();
        const sms = page.getByRole('form', { name: 'New template' });
        await sms.getByLabel('Template name').fill('Spring text');
        await sms.getByLabel('Channel').selectOption('sms');
        await sms.getByLabel('Body').fill('Hi {{ contact.first_name }}, rates dropped. Reply STOP to opt out.');
        await page.getByLabel('Preview for').selectOption({ label: 'Ming' });
        await page.getByRole('button', { name: 'Preview', exact: true }).click();
        await page.getByTestId('sms-segments').getByText('GSM-7').waitFor();
        expect(await page.getByTestId('sms-segments').innerText()).toContain('1 segment');
        await sms.getByRole('button', { name: 'Save template' }).click();
        await page.getByTestId('templates').getByRole('cell', { name: 'Spring text', exact: true }).waitFor();
      });
      expectNoConsoleErrors(t);
    });

    async function runCampaign(name: string, channel: 'Email' | 'SMS', template: string) {
      await page.goto(`${server.url}/b/${bid}/campaigns`);
      await page.getByRole('button', { name: 'New campaign' }).click();
      const form = page.getByRole('form', { name: 'New campaign' });
      await form.getByLabel('Campaign name').fill(name);
      await form.getByLabel('Channel').selectOption({ label: channel });
      await form.getByLabel('Audience list').selectOption({ label: `${listName} (3)` });
      await form.getByLabel('Template').selectOption({ label: template });
      await form.getByRole('button', { name: 'Create draft' }).click();
      await page.getByTestId('campaigns').getByRole('link', { name }).click();
      await page.getByTestId('review-eligible').getByText('3 of 3 list members').waitFor();
      await page.getByRole('button', { name: 'Send now' }).click();
      await page.getByTestId('campaign-status').getByText('completed').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('campaign-counts').innerText()).toContain('3 sent');
      // The recipients follow the counts while the campaign sends (first loaded while queued).
      const recipients = page.getByTestId('campaign-recipients');
      await expect.poll(() => recipients.getByRole('cell', { name: 'sent', exact: true }).count()).toBe(3);
    }

    it('sends an email campaign and an SMS campaign and watches the counts reach the end', async () => {
      await step(page, 'campaigns', async () => {
        await runCampaign('Spring email blast', 'Email', 'Spring email');
        await screenshot(page, 'campaign-email-done');
        expect(new Set(smtp.received.map((m) => m.envelopeTo[0]))).toEqual(
          new Set(['rosa@example.com', 'ming@example.com', 'ade@example.com']),
        );
        await runCampaign('Spring text blast', 'SMS', 'Spring text');
        const texts = twilio.messages.filter((m) => m.from === NUMBER && m.body.includes('rates dropped'));
        expect(texts).toHaveLength(3);
        expect(texts.map((m) => m.body)).toContain('Hi Ade, rates dropped. Reply STOP to opt out.');
        // The carrier confirms two: they still count as sent, and as delivered.
        for (const m of texts.slice(0, 2)) expect((await twilio.deliverStatus(m.sid, 'delivered')).status).toBe(200);
        await page.reload();
        await expect
          .poll(() => page.getByTestId('campaign-counts').innerText(), { timeout: 10_000 })
          .toContain('3 sent (2 delivered)');
        await page.getByLabel('Show', { exact: true }).selectOption('delivered');
        const recipients = page.getByTestId('campaign-recipients');
        await expect.poll(() => recipients.locator('tbody tr').count()).toBe(2);
        expect(await recipients.getByRole('cell', { name: 'delivered', exact: true }).count()).toBe(2);
      });
      expectNoConsoleErrors(t);
    });

    it('unsubscribes from a received email’s link', async () => {
      await step(page, 'unsubscribe', async () => {
        const mail = smtp.received.find((m) => m.envelopeTo[0] === 'rosa@example.com')!;
        const link = /<(https:[^>]+\/u\/[^>]+)>/.exec(mail.raw.replace(/\r?\n[ \t]+/g, ' '))![1]!;
        await page.goto(link);
        await page.getByRole('button', { name: 'Unsubscribe' }).click();
        await page.getByRole('heading', { name: 'You are unsubscribed' }).waitFor();
        await screenshot(page, 'unsubscribed');
        const sup = await api('GET', '/campaigns');
        expect(sup.status).toBe(200);
        // The next campaign's review excludes her.
        const c = await api('POST', '/campaigns', {
          name: 'Next',
          channel: 'email',
          list_id: (await api('GET', '/lists')).json.items.find((l: { name: string }) => l.name === listName).id,
          template_id: (await api('GET', '/templates?channel=email')).json.items[0].id,
        });
        const review = await api('GET', `/campaigns/${c.json.id}/review`);
        expect(review.json).toMatchObject({ eligible: 2, excluded: { unsubscribed: 1 } });
      });
    });
  },
);
