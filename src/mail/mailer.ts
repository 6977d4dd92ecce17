// Outgoing mail. With SMTP_URL, nodemailer sends it; without, outside production,
// each message is written as JSON to <dataDir>/outbox/ (tests read it there) and
// logged — with its links only in development, since a link is a bearer credential.
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { nodemailer } from './nodemailer.ts';
import type { Config } from '../config/index.ts';
import type { Logger } from '../observability/logger.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

export const OUTBOX_DIR = 'outbox';

export function createMailer(
  config: Pick<Config, 'smtp' | 'dataDir' | 'env' | 'isProduction'>,
  logger: Logger,
): Mailer {
  if (config.smtp.url) {
    const transport = nodemailer().createTransport(config.smtp.url);
    return {
      async send(message) {
        await transport.sendMail({
          from: config.smtp.from,
          to: message.to,
          subject: message.subject,
          text: message.text,
        });
        logger.info({ mail_subject: message.subject }, 'mail sent');
      },
    };
  }
  if (config.isProduction) {
    throw new Error('SMTP_URL is required in production: the development outbox would hold reset links on disk');
  }
  const dir = path.join(config.dataDir, OUTBOX_DIR);
  return {
    async send(message) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.json`;
      const record = { ...message, from: config.smtp.from, sent_at: new Date().toISOString() };
      writeFileSync(path.join(dir, name), JSON.stringify(record, null, 2), { mode: 0o600 });
      if (config.env === 'development')
        logger.info(
          { mail_to: message.to, mail_subject: message.subject, mail_text: message.text },
          'mail written to the development outbox',
        );
      else logger.info({ mail_subject: message.subject, outbox_file: name }, 'mail written to the outbox');
    },
  };
}
