// Reads the development mail outbox (<dataDir>/outbox/*.json) that the mailer writes
// when SMTP_URL is unset, so tests can follow verification and reset links.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface OutboxMail {
  to: string;
  subject: string;
  text: string;
  from: string;
  sent_at: string;
  file: string;
}

export function readOutbox(dataDir: string): OutboxMail[] {
  const dir = path.join(dataDir, 'outbox');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ ...(JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Omit<OutboxMail, 'file'>), file: f }));
}

/** The newest mail to `to` (optionally whose subject matches), waiting briefly for it. */
export async function lastMailTo(
  dataDir: string,
  to: string,
  subject?: RegExp,
  timeoutMs = 3_000,
): Promise<OutboxMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = readOutbox(dataDir).filter(
      (m) => m.to.toLowerCase() === to.toLowerCase() && (!subject || subject.test(m.subject)),
    );
    if (mails.length > 0) return mails[mails.length - 1]!;
    if (Date.now() > deadline)
      throw new Error(`no mail to ${to}${subject ? ` matching ${subject}` : ''} in the outbox`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The `token` carried by the first Capto link in a mail body (…#token=… or ?token=…). */
export function tokenFromMail(mail: OutboxMail): string {
  const m = /[#?&]token=([A-Za-z0-9_-]+)/.exec(mail.text);
  if (!m) throw new Error(`no token link in mail "${mail.subject}"`);
  return m[1]!;
}
