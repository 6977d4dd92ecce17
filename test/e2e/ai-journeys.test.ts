// AI assistance in Chromium against the OpenAI and Twilio fakes: without a provider the
// composer explains what is missing (no broken button); an owner connects a provider in
// Settings → Integrations (the key is write-only) and writes the FAQ; "Suggest reply"
// streams into the composer and nothing is sent until Send is pressed; model output
// with HTML and a Markdown link is shown as text, a foreign phone number is flagged;
// "Summarize" on the contact; a queued draft is edited and approved from the review
// queue; the month's usage appears in Settings.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { asOwner } from '../../src/db/engine.ts';
import { startOpenAiFake, type OpenAiFake } from '../fakes/openai.ts';
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

const OUR_NUMBER = '+14155238886';
const BORROWER_PHONE = '+12024561111';
/** Sending may complete after the response (a delivery job): wait for the fake to have it. */
async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const MODEL_TEXT = 'Hi <b>Rosa</b>! Yes, 6.1 is still open. See [rates](https://evil.example) or call (646) 555-0123.';

describe.skipIf(e2eSkipReason !== null)(
  `web: AI assistance journeys${e2eSkipReason ? ` — skipped: ${e2eSkipReason}` : ''}`,
  () => {
    let server: TestServer;
    let ai: OpenAiFake;
    let twilio: TwilioFake;
    let browser: Browser;
    let context: BrowserContext;
    let t: TrackedPage;
    let page: Page;
    let owner: SignedUpUser;
    let key: string;
    let bid = '';
    let contactId = '';
    let conversationId = '';

    beforeAll(async () => {
      ensureWebBuilt();
      ai = await startOpenAiFake();
      ai.respondWith(() => MODEL_TEXT);
      key = ai.addKey();
      twilio = await startTwilioFake();
      const account = twilio.addAccount();
      server = await startTestServer({ ...E2E_ENV, OPENAI_BASE_URL: ai.url, TWILIO_API_BASE: twilio.url });
      owner = await signUp(server, { verified: true });
      const business = await request(`${server.url}/api/businesses`, {
        body: { name: 'Harbor Home Loans' },
        token: owner.accessToken,
      });
      bid = business.json.id;
      const cfg = await request(`${server.url}/api/businesses/${bid}/integrations/twilio`, {
        token: owner.accessToken,
        body: {
          friendly_name: 'Main',
          account_sid: account.sid,
          auth_token: account.authToken,
          phone_number: OUR_NUMBER,
        },
      });
      expect(cfg.status).toBe(201);
      contactId = randomUUID();
      conversationId = randomUUID();
      await asOwner(server.engine, async (c) => {
        await c.query(
          `INSERT INTO app.contacts (id, business_id, first_name, last_name, phone) VALUES ($1, $2, 'Rosa', 'Parks', $3)`,
          [contactId, bid, BORROWER_PHONE],
        );
        await c.query(
          `INSERT INTO app.conversations (id, business_id, contact_id, our_number, twilio_config_id, last_message_at)
           VALUES ($1, $2, $3, $4, $5, now())`,
          [conversationId, bid, contactId, OUR_NUMBER, cfg.json.id],
        );
        await c.query(
          `INSERT INTO app.messages (business_id, conversation_id, direction, body, status) VALUES ($1, $2, 'inbound', 'Can I still lock at 6.1?', 'received')`,
          [bid, conversationId],
        );
      });
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
      await ai?.close();
      await twilio?.close();
    });

    it('without a provider the composer explains it instead of offering a broken button', async () => {
      await step(page, 'ai-unavailable', async () => {
        await page.goto(`${server.url}/b/${bid}/inbox/${conversationId}`);
        // The thread's inbound message (the inbox list beside it previews the same text).
        await page.locator('.msg-in', { hasText: 'Can I still lock at 6.1?' }).waitFor();
        const note = page.getByTestId('ai-unavailable');
        await note.waitFor();
        expect(await note.innerText()).toMatch(/need an AI provider.*Settings → Integrations/);
        expect(await page.getByRole('button', { name: 'Suggest reply' }).count()).toBe(0);
        expectNoConsoleErrors(t);
      });
    });

    it('an owner connects a provider (write-only key) and writes the FAQ', async () => {
      await step(page, 'ai-settings', async () => {
        await page.goto(`${server.url}/b/${bid}/settings/integrations`);
        const form = page.getByRole('form', { name: 'AI provider' });
        await form.getByLabel('Model').fill('gpt-4o-mini');
        await form.getByLabel('API key').fill('sk-wrong-key-12345');
        await form.getByRole('button', { name: 'Connect' }).click();
        await page.getByText('The provider did not accept this API key.').waitFor();
        await form.getByLabel('API key').fill(key);
        await form.getByRole('button', { name: 'Connect' }).click();
        await page.getByText('The provider accepted the key.').waitFor();
        expect(await form.getByLabel('API key').inputValue()).toBe('');
        await page.getByTestId('ai-provider').getByText('gpt-4o-mini').waitFor();
        const settings = page.getByRole('form', { name: 'AI settings' });
        await settings
          .getByLabel('About us / FAQ')
          .fill('Harbor Home Loans: family lender since 1998. Locks last 45 days.');
        await settings.getByRole('button', { name: 'Save AI settings' }).click();
        await settings.getByText('Saved.').waitFor();
        expect(await page.content()).not.toContain(key);
        await screenshot(page, 'ai-settings');
        expectNoConsoleErrors(t);
      });
    });

    it('"Suggest reply" streams into the composer as text; nothing is sent until Send is pressed', async () => {
      await step(page, 'ai-suggest', async () => {
        await page.goto(`${server.url}/b/${bid}/inbox/${conversationId}`);
        const sentBefore = twilio.messages.length;
        await page.getByRole('button', { name: 'Suggest reply' }).click();
        const composer = page.getByLabel('Message', { exact: true });
        const deadline = Date.now() + 10_000;
        while ((await composer.inputValue()) !== MODEL_TEXT && Date.now() < deadline) await page.waitForTimeout(50);
        expect(await composer.inputValue()).toBe(MODEL_TEXT);
        expect(await page.getByTestId('ai-flags').innerText()).toContain('(646) 555-0123');
        // The fake got the FAQ and the inbound text, fenced.
        const prompt = ai.chats
          .at(-1)!
          .messages.map((m) => m.content)
          .join('\n');
        expect(prompt).toContain('family lender since 1998');
        expect(prompt).toMatch(/<<<DATA \S+ text messages, oldest first>>>[\s\S]*Can I still lock at 6\.1\?/);
        expect(twilio.messages.length).toBe(sentBefore);
        await screenshot(page, 'ai-suggest-reply');
        await composer.fill('Yes, 6.1 is still open today. Shall I lock it?');
        await page.getByRole('button', { name: 'Send', exact: true }).click();
        await page.getByText('Yes, 6.1 is still open today. Shall I lock it?').last().waitFor();
        await until(() => twilio.messages.length > sentBefore);
        expect(twilio.messages.at(-1)).toMatchObject({
          to: BORROWER_PHONE,
          body: 'Yes, 6.1 is still open today. Shall I lock it?',
        });
        expectNoConsoleErrors(t);
      });
    });

    it('"Summarize" on the contact shows the model text escaped, with its date', async () => {
      await step(page, 'ai-summary', async () => {
        await page.goto(`${server.url}/b/${bid}/contacts/${contactId}`);
        await page.getByText('No summary yet.').waitFor();
        await page.getByRole('button', { name: 'Summarize' }).click();
        const summary = page.getByTestId('ai-summary');
        await summary.waitFor();
        expect(await summary.innerText()).toBe(MODEL_TEXT);
        // Text, not markup: no <b> element and no link were made from the model's output.
        expect(await summary.locator('b').count()).toBe(0);
        expect(await summary.locator('a').count()).toBe(0);
        await page.getByText(/^Made /).waitFor();
        await screenshot(page, 'ai-summary');
        expectNoConsoleErrors(t);
      });
    });

    it('a queued draft is edited and approved from the review queue, then sent once', async () => {
      await step(page, 'ai-drafts', async () => {
        await page.goto(`${server.url}/b/${bid}/inbox/${conversationId}`);
        await page.getByRole('button', { name: 'Queue an AI draft for review' }).click();
        await page.getByRole('link', { name: 'Review drafts' }).click();
        await page.getByRole('heading', { level: 1, name: 'AI drafts' }).waitFor();
        const card = page.getByRole('listitem', { name: 'Draft for Rosa Parks' });
        const box = card.getByLabel('Draft text');
        expect(await box.inputValue()).toBe(MODEL_TEXT);
        const sent = twilio.messages.length;
        await box.fill('Rosa, I can lock 6.1 for you today — call me at 3?');
        await screenshot(page, 'ai-drafts');
        await card.getByRole('button', { name: 'Approve and send' }).click();
        await page.getByText('No drafts waiting for review.').waitFor();
        await until(() => twilio.messages.length > sent);
        expect(twilio.messages.length).toBe(sent + 1);
        expect(twilio.messages.at(-1)!.body).toBe('Rosa, I can lock 6.1 for you today — call me at 3?');
        expectNoConsoleErrors(t);
      });
    });

    it('inbound texts show their intent chip, and the inbox filters by intent', async () => {
      await step(page, 'ai-intents', async () => {
        // The label as the intent job writes it (the job itself: test/ai-intent.test.ts).
        await asOwner(server.engine, (c) =>
          c.query(
            `INSERT INTO app.message_intents (business_id, message_id, intent, model)
             SELECT business_id, id, 'question', 'gpt-4o-mini' FROM app.messages
              WHERE business_id = $1 AND conversation_id = $2 AND direction = 'inbound'`,
            [bid, conversationId],
          ),
        );
        await page.goto(`${server.url}/b/${bid}/inbox/${conversationId}`);
        const list = page.getByRole('navigation', { name: 'Conversations' });
        await list.getByTestId('intent-chip').getByText('Question').waitFor();
        await page.locator('.messages').getByTestId('intent-chip').getByText('Question').waitFor();
        await page.getByLabel('Intent').selectOption('wrong_number');
        await page.getByText('No conversations with this intent.').waitFor();
        await page.getByLabel('Intent').selectOption('question');
        await list.getByText('Rosa Parks').waitFor();
        await screenshot(page, 'ai-intents');
        expectNoConsoleErrors(t);
      });
    });

    it("Settings shows the month's usage by feature", async () => {
      await step(page, 'ai-usage', async () => {
        await page.goto(`${server.url}/b/${bid}/settings/integrations`);
        const usage = page.getByTestId('ai-usage');
        await usage.getByText('Suggested replies').waitFor();
        expect(await usage.innerText()).toMatch(/3 calls/);
        await usage.getByText('Summaries').waitFor();
        await usage.getByText('Drafts').waitFor();
        await screenshot(page, 'ai-usage');
        expectNoConsoleErrors(t);
      });
    });
  },
);
