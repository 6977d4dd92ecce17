// Account mails an address gets whoever asks (password reset, verification resend) are
// limited per address per hour, on top of the per-account request limits: a stranger
// asking for resets of someone's address, or an account signed up with someone else's
// address asking for verification mails, cannot flood that mailbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { freshEmail, signUp, strongPassword } from './support/auth.ts';
import { request } from './support/http.ts';
import { lastMailTo, readOutbox, tokenFromMail } from './support/outbox.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ CAPTO_AUTH_RATE_MAIL: '2', CAPTO_SCAN_ON_START: 'off' });
}, 240_000);
afterAll(async () => s?.stop());

const eventsOf = async (userId: string) =>
  (
    await asOwner(s.engine, (c) =>
      c.query<{ type: string; details: Record<string, unknown> }>(
        `SELECT type, details FROM auth.audit_events WHERE user_id = $1 AND type IN ('password_reset_requested', 'rate_limited') ORDER BY created_at`,
        [userId],
      ),
    )
  ).rows;

describe('account mails per address', () => {
  it('forgot-password: past the budget the answer is the same 202, but no token and no mail; the last link still works', async () => {
    const u = await signUp(s);
    for (let i = 0; i < 4; i++) {
      const r = await request(`${s.url}/auth/password/forgot`, { body: { email: u.email } });
      expect(r.status).toBe(202);
      expect(r.json).toEqual({ status: 'accepted' });
    }
    // The work runs after each answer: wait until all four are accounted for.
    const deadline = Date.now() + 15_000;
    let events = await eventsOf(u.userId);
    while (events.length < 4 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      events = await eventsOf(u.userId);
    }
    // Each request's work starts after its answer, so two may overlap: compare as sets.
    expect(events.map((e) => e.type).sort()).toEqual([
      'password_reset_requested',
      'password_reset_requested',
      'rate_limited',
      'rate_limited',
    ]);
    for (const e of events.filter((x) => x.type === 'rate_limited'))
      expect(e.details).toEqual({ action: 'reset_mail' });
    const mails = readOutbox(s.config.dataDir).filter((m) => m.to === u.email && /reset/i.test(m.subject));
    expect(mails).toHaveLength(2);
    // The refused requests issued no token, so the newer of the two mailed links still
    // works (had they issued tokens, both mailed links would have been superseded).
    const statuses: number[] = [];
    for (const mail of mails) {
      const token = tokenFromMail(mail);
      const reset = await request(`${s.url}/auth/password/reset`, { body: { token, new_password: strongPassword() } });
      statuses.push(reset.status);
    }
    expect(statuses.sort()).toEqual([204, 400]);
    // Another address is not affected.
    const other = await signUp(s);
    expect((await request(`${s.url}/auth/password/forgot`, { body: { email: other.email } })).status).toBe(202);
    await lastMailTo(s.config.dataDir, other.email, /reset/i);
  });

  it('verification resend: past the budget 429 with retry_after, recorded; nothing mailed', async () => {
    const u = await signUp(s, { email: freshEmail('unverified') });
    await lastMailTo(s.config.dataDir, u.email, /confirm/i); // the sign-up mail (not counted)
    const resend = () => request(`${s.url}/auth/verify/resend`, { method: 'POST', token: u.accessToken });
    for (let i = 0; i < 2; i++) expect((await resend()).status).toBe(202);
    const refused = await resend();
    expect([refused.status, refused.json.error.code]).toEqual([429, 'rate_limited']);
    expect(refused.json.error.retry_after).toBeGreaterThanOrEqual(1);
    expect(refused.json.error.retry_after).toBeLessThanOrEqual(3600);
    expect(refused.headers['retry-after']).toBe(String(refused.json.error.retry_after));
    expect(readOutbox(s.config.dataDir).filter((m) => m.to === u.email && /confirm/i.test(m.subject))).toHaveLength(3);
    expect((await eventsOf(u.userId)).map((e) => e.details)).toEqual([{ action: 'verify_mail' }]);
  });
});
