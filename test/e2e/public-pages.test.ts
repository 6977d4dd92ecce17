// Public pages render under the strict CSP with no console errors; the Security page
// shows the same reporting contact as /.well-known/security.txt (P12).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { signUp } from '../support/auth.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { signInThroughUi } from './flows.ts';
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

describe.skipIf(e2eSkipReason !== null)(
  `web: public pages${e2eSkipReason ? ` — skipped: ${e2eSkipReason}` : ''}`,
  () => {
    let server: TestServer;
    let browser: Browser;
    let context: BrowserContext;

    beforeAll(async () => {
      ensureWebBuilt();
      server = await startTestServer({ ...E2E_ENV, CAPTO_SECURITY_CONTACT: 'mailto:security-e2e@capto.example' });
      browser = await launchBrowser();
      context = await newContext(browser);
    }, 300_000);
    afterAll(async () => {
      await context?.close();
      await browser?.close();
      await server?.stop();
    });

    it('serves the SPA with the strict CSP and no inline script or style', async () => {
      const t = await openPage(context);
      const response = await t.page.goto(`${server.url}/`);
      const csp = response!.headers()['content-security-policy'] ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      const html = await response!.text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
      expect(html).not.toMatch(/\sstyle=/i);
      await t.page.getByRole('heading', { level: 1 }).waitFor();
      expect(await t.page.locator('[style]').count()).toBe(0);
      await screenshot(t.page, 'landing');
      expectNoConsoleErrors(t);
    });

    it('renders the Security page with the contact from security.txt', async () => {
      const t = await openPage(context);
      await t.page.goto(`${server.url}/security`);
      const contact = t.page.getByTestId('security-contact');
      const link = contact.getByRole('link', { name: 'security-e2e@capto.example' });
      await link.waitFor();
      expect(await link.getAttribute('href')).toBe('mailto:security-e2e@capto.example');
      await screenshot(t.page, 'security');
      expectNoConsoleErrors(t);
    });

    it('renders Privacy, Terms and Contact, and client routes deep-link', async () => {
      const t = await openPage(context);
      for (const [path, heading] of [
        ['/privacy', 'Privacy Policy'],
        ['/terms', 'Terms of Service'],
        ['/contact', 'Contact'],
      ] as const) {
        await t.page.goto(`${server.url}${path}`);
        await t.page.getByRole('heading', { level: 1, name: heading }).waitFor();
      }
      await t.page.getByRole('link', { name: 'Security' }).first().click();
      await t.page.getByRole('heading', { level: 1, name: 'Security at Capto' }).waitFor();
      expectNoConsoleErrors(t);
    });

    it('sends a signed-out visitor from an app page to sign-in, and back after', async () => {
      const t = await openPage(context);
      await t.page.goto(`${server.url}/app`);
      await t.page.waitForURL(/\/signin\?next=%2Fapp/);
      await t.page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await screenshot(t.page, 'sign-in');
      expectNoConsoleErrors(t);
    });

    it('is usable at phone width', async () => {
      const phone = await newContext(browser, { width: 390, height: 844 });
      const t = await openPage(phone);
      await t.page.goto(`${server.url}/signup`);
      await t.page.getByLabel('Password', { exact: true }).fill('correct horse battery staple');
      await t.page.getByTestId('password-strength').waitFor();
      const overflow = await t.page.evaluate('document.documentElement.scrollWidth > window.innerWidth + 1');
      expect(overflow).toBe(false);
      await screenshot(t.page, 'sign-up-phone');
      expectNoConsoleErrors(t);
      await phone.close();
    });

    // Concurrent tabs refresh with the same token: four tabs reloading at once each ask
    // POST /auth/token with the one refresh cookie. The Web Lock makes them take turns
    // (each sends the cookie its predecessor's answer rotated), so the server's reuse
    // detection never sees a rotated token and its grace window is never needed.
    it('serialises the session refreshes of several tabs restoring at once, and keeps the session', async () => {
      const user = await signUp(server, { verified: true });
      const tabs = await newContext(browser, { width: 390, height: 844 });
      const first = await openPage(tabs);
      await signInThroughUi(first.page, server.url, user.email, user.password);
      await first.page.getByRole('heading', { name: 'Welcome to Capto' }).waitFor();
      const others = [await openPage(tabs), await openPage(tabs), await openPage(tabs)];
      await Promise.all(others.map((o) => o.page.goto(`${server.url}/onboarding`)));
      const all = [first, ...others];
      for (const o of all) await o.page.getByRole('heading', { name: 'Welcome to Capto' }).waitFor();
      const spans = new Map<object, { start: number; end: number }>();
      for (const o of all) {
        o.page.on(
          'request',
          (r) =>
            void (
              new URL(r.url()).pathname === '/auth/token' && spans.set(r, { start: performance.now(), end: Infinity })
            ),
        );
        const ended = (r: object) => {
          const span = spans.get(r);
          if (span) span.end = performance.now();
        };
        o.page.on('requestfinished', ended);
        o.page.on('requestfailed', ended);
      }
      await Promise.all(all.map((o) => o.page.reload()));
      for (const o of all) await o.page.getByRole('heading', { name: 'Welcome to Capto' }).waitFor();
      const ordered = [...spans.values()].sort((a, b) => a.start - b.start);
      expect(ordered.length).toBeGreaterThanOrEqual(4);
      for (let i = 1; i < ordered.length; i++) expect(ordered[i]!.start).toBeGreaterThanOrEqual(ordered[i - 1]!.end);
      // Still one live session: a later reload signs in again instead of bouncing to /signin.
      await first.page.reload();
      await first.page.getByRole('heading', { name: 'Welcome to Capto' }).waitFor();
      expect(first.page.url()).toMatch(/\/onboarding$/);
      await screenshot(first.page, 'onboarding-phone');
      for (const o of all) expectNoConsoleErrors(o);
      await tabs.close();
    });
  },
);
