/// <reference lib="dom" />
// Browser-test harness: Debian's Chromium driven by playwright-core against a real
// Capto server (embedded engine) serving the built SPA under its production CSP.
// Every page records console errors and uncaught exceptions; a CSP violation shows up
// there as "Refused to …", so `expectNoConsoleErrors` is also the CSP check.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const repo = fileURLToPath(new URL('../..', import.meta.url));
export const SCREENSHOTS = path.join(repo, 'test-output', 'screenshots');

/** Browser tests need the embedded engine and a Chromium; say why when they cannot run. */
export const e2eSkipReason: string | null = process.env.TEST_DATABASE_URL
  ? 'browser tests run on the embedded engine only (TEST_DATABASE_URL is set: the server-engine pass skips them)'
  : null;

/** Build web/dist if its sources changed; serialised across parallel test files with flock. */
export function ensureWebBuilt(): void {
  const script = path.join(repo, 'scripts', 'build-web.mjs');
  const lock = path.join(repo, 'test-output', '.web-build.lock');
  mkdirSync(path.dirname(lock), { recursive: true });
  const hasFlock = existsSync('/usr/bin/flock') || existsSync('/bin/flock');
  if (hasFlock) execFileSync('flock', [lock, process.execPath, script], { cwd: repo, stdio: 'pipe' });
  else execFileSync(process.execPath, [script], { cwd: repo, stdio: 'pipe' });
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: run "apt-get update && apt-get install -y chromium" (.ci/run does it)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface TrackedPage {
  page: Page;
  /** Console errors and page errors seen so far (expected 4xx resource loads excluded). */
  errors: string[];
}

// Chrome logs every non-2xx fetch as "Failed to load resource"; the app makes some on
// purpose (the session probe on /auth/token answers 401 when signed out, a refused
// breached password answers 400). Those are asserted through the UI instead.
const EXPECTED = /Failed to load resource: the server responded with a status of (400|401|403|404|409|410)/;

// Requests that stay open while a user is signed in (the notification stream) never end,
// so "the network is idle" has to leave them out.
const LONG_LIVED = /\/api\/notifications\/stream/;
const inflight = new WeakMap<Page, Set<unknown>>();

/**
 * Like waitForLoadState('networkidle') — no request in flight for 500 ms — but the
 * long-lived notification stream does not count. Works on pages made by track/openPage.
 */
export async function waitForQuiet(page: Page, timeoutMs = 15_000): Promise<void> {
  const open = inflight.get(page);
  if (!open) throw new Error('waitForQuiet needs a page made by openPage/track');
  const deadline = Date.now() + timeoutMs;
  let quietSince = open.size === 0 ? Date.now() : Infinity;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    if (open.size > 0) quietSince = Infinity;
    else if (quietSince === Infinity) quietSince = Date.now();
    if (Date.now() - quietSince >= 500) return;
    if (Date.now() > deadline) throw new Error(`waitForQuiet: ${open.size} request(s) still in flight`);
  }
}

export function track(page: Page): TrackedPage {
  const open = new Set<unknown>();
  inflight.set(page, open);
  page.on('request', (r) => {
    if (!LONG_LIVED.test(r.url())) open.add(r);
  });
  page.on('requestfinished', (r) => open.delete(r));
  page.on('requestfailed', (r) => open.delete(r));
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !EXPECTED.test(msg.text())) errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return { page, errors };
}

export async function newContext(browser: Browser, viewport = { width: 1280, height: 860 }): Promise<BrowserContext> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  context.setDefaultTimeout(15_000);
  return context;
}

export async function openPage(context: BrowserContext): Promise<TrackedPage> {
  return track(await context.newPage());
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export function expectNoConsoleErrors(tracked: TrackedPage): void {
  if (tracked.errors.length > 0)
    throw new Error(`console errors on ${tracked.page.url()}:\n  ${tracked.errors.join('\n  ')}`);
}

/** Server settings for browser tests: the policy scan has its own tests; skip it at start for speed. */
export const E2E_ENV: Record<string, string> = { CAPTO_SCAN_ON_START: 'off' };

/**
 * axe-core on the page as it is now (WCAG 2.x A/AA rules and best practices): no
 * violation of serious or critical impact. Returns the minor/moderate ones' ids.
 */
export async function expectAccessible(page: Page, screen: string): Promise<string[]> {
  const { AxeBuilder } = await import('@axe-core/playwright');
  // @axe-core/playwright is typed against `playwright`; playwright-core's Page is the same object.
  const result = await new AxeBuilder({ page: page as never }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length > 0) {
    const lines = bad.map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help}\n      ${v.nodes
          .slice(0, 4)
          .map((n) => `${n.target.join(' ')} — ${n.failureSummary?.replace(/\s+/g, ' ').slice(0, 200)}`)
          .join('\n      ')}`,
    );
    throw new Error(`accessibility violations on ${screen} (${page.url()}):\n  ${lines.join('\n  ')}`);
  }
  return result.violations.map((v) => v.id);
}

/** Press Tab (at most `max` times) until the focused element matches `selector`. Keyboard only. */
export async function tabTo(page: Page, selector: string, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const hit = await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector);
    if (hit) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}
