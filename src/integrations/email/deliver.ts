// Delivering one email through a business's sender (docs/ARCHITECTURE.md "Email
// senders"). Called only by the outbox's email driver, never from a request. SMTP
// transports are pooled per sender and node and rebuilt when the sender changes
// (its updated_at); the host is re-checked (outbound-host) on every rebuild.
// Gmail: the raw RFC 822 message is POSTed to {GOOGLE_API_BASE}/gmail/v1/users/me/
// messages/send with the business's Google token, refreshed server-side.
//
// Failures are classified: `permanent` (SMTP 5xx on a recipient, Gmail 400) feeds the
// suppression list as a hard bounce and is never retried; anything else is temporary.
import nodemailer from 'nodemailer';
import type { Database } from '../../db/index.ts';
import type { Vault } from '../../vault/secrets.ts';
import { AppError } from '../../shared/errors.ts';
import type { GoogleConnection } from '../google/connection.ts';
import { loadSenderForDelivery, type SenderForDelivery } from './senders.ts';
import { smtpTransportOptions, type SmtpPolicy } from './smtp.ts';

export interface OutgoingEmail {
  /** Stable per outbox row: the Message-ID is derived from it. */
  id: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  headers?: Record<string, string>;
}

export class EmailDeliveryError extends Error {
  override name = 'EmailDeliveryError';
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface EmailDelivery {
  send(businessId: string, senderId: string, mail: OutgoingEmail): Promise<{ providerId: string }>;
  /** The sender's campaign rate (messages per second), for throttling. */
  rateOf(businessId: string, senderId: string): Promise<number | undefined>;
  close(): void;
}

type Transport = ReturnType<typeof nodemailer.createTransport>;

export function createEmailDelivery(deps: {
  db: Database;
  vault: Vault;
  google?: GoogleConnection;
  googleApiBase: string;
  smtpPolicy: SmtpPolicy;
  messageIdDomain: string;
  fetchImpl?: typeof fetch;
}): EmailDelivery {
  const transports = new Map<string, { version: string; transport: Transport }>();
  const doFetch = deps.fetchImpl ?? fetch;

  // A sender (password included) is cached per node for a few seconds, so a campaign does
  // not re-read and decrypt it for every message; a change or removal is seen within the TTL.
  const senders = new Map<string, { at: number; sender: SenderForDelivery }>();
  const SENDER_TTL_MS = 5_000;
  async function sender(businessId: string, senderId: string): Promise<SenderForDelivery> {
    const hit = senders.get(senderId);
    if (hit && hit.sender.businessId === businessId && Date.now() - hit.at < SENDER_TTL_MS) return hit.sender;
    const s = await deps.db.asService('email.deliver.sender', (tx) =>
      loadSenderForDelivery(tx, deps.vault, businessId, senderId),
    );
    if (!s) {
      senders.delete(senderId);
      throw new EmailDeliveryError('the email sender was removed', true, 'sender_removed');
    }
    senders.set(senderId, { at: Date.now(), sender: s });
    return s;
  }

  async function smtpTransport(s: SenderForDelivery): Promise<Transport> {
    const cached = transports.get(s.id);
    if (cached && cached.version === s.version) return cached.transport;
    cached?.transport.close();
    let options;
    try {
      options = await smtpTransportOptions(s.smtp!, deps.smtpPolicy, { pool: true, maxConnections: 8 });
    } catch (e) {
      // The host no longer passes the outbound check (e.g. DNS now points inside): permanent for this sender.
      throw new EmailDeliveryError((e as Error).message, true, (e as AppError).code ?? 'host_not_allowed');
    }
    const transport = nodemailer.createTransport(options);
    transports.set(s.id, { version: s.version, transport });
    return transport;
  }

  function message(s: SenderForDelivery, mail: OutgoingEmail) {
    return {
      from: { name: s.fromName, address: s.fromEmail },
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      headers: mail.headers,
      messageId: `<${mail.id}@${deps.messageIdDomain}>`,
      disableFileAccess: true,
      disableUrlAccess: true,
    };
  }

  async function viaSmtp(s: SenderForDelivery, mail: OutgoingEmail) {
    const transport = await smtpTransport(s);
    try {
      const info = await transport.sendMail(message(s, mail));
      if (info.rejected.length > 0) throw new EmailDeliveryError('the server rejected the recipient', true, 'rejected');
      return { providerId: info.messageId };
    } catch (e) {
      if (e instanceof EmailDeliveryError) throw e;
      const err = e as { responseCode?: number; code?: string; response?: string };
      const code = err.responseCode;
      // 5xx at RCPT/DATA is a hard bounce; an auth failure is the sender's problem, not the recipient's.
      if (code && code >= 500 && err.code !== 'EAUTH') {
        throw new EmailDeliveryError(`SMTP ${code}: ${(err.response ?? '').slice(0, 200)}`, true, `smtp_${code}`);
      }
      if (err.code === 'EAUTH') transports.delete(s.id);
      throw new EmailDeliveryError(
        code ? `SMTP ${code}: ${(err.response ?? '').slice(0, 200)}` : `SMTP ${err.code ?? 'error'}`,
        false,
        code ? `smtp_${code}` : String(err.code ?? 'smtp_error').toLowerCase(),
      );
    }
  }

  async function viaGmail(s: SenderForDelivery, mail: OutgoingEmail) {
    if (!deps.google)
      throw new EmailDeliveryError('Google is not set up on this server', true, 'google_not_configured');
    const raw = await new Promise<Buffer>((resolve, reject) => {
      nodemailer
        .createTransport({ streamTransport: true, buffer: true, newline: 'windows' })
        .sendMail(message(s, mail), (err, info) => (err ? reject(err) : resolve(info.message as Buffer)));
    });
    for (let attempt = 0; attempt < 2; attempt++) {
      let token: string;
      try {
        token = await deps.google.accessToken(s.businessId, attempt === 0 ? 60 : 3600);
      } catch (e) {
        const code = (e as AppError).code;
        throw new EmailDeliveryError(
          'the Google connection is missing or expired',
          code === 'not_found',
          'google_token',
        );
      }
      let res: Response;
      try {
        res = await doFetch(`${deps.googleApiBase}/gmail/v1/users/me/messages/send`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ raw: raw.toString('base64url') }),
          redirect: 'error',
          signal: AbortSignal.timeout(20_000),
        });
      } catch {
        throw new EmailDeliveryError('Gmail could not be reached', false, 'gmail_unreachable');
      }
      if (res.ok) {
        const body = (await res.json().catch(() => ({}))) as { id?: string };
        return { providerId: body.id ?? '' };
      }
      await res.body?.cancel();
      if (res.status === 401 && attempt === 0) continue; // token revoked early: force a refresh once
      const permanent = res.status === 400 || res.status === 403 || res.status === 404;
      throw new EmailDeliveryError(`Gmail answered ${res.status}`, permanent, `gmail_${res.status}`);
    }
    throw new EmailDeliveryError('Gmail refused the token', false, 'gmail_401');
  }

  return {
    async send(businessId, senderId, mail) {
      const s = await sender(businessId, senderId);
      return s.kind === 'smtp' ? viaSmtp(s, mail) : viaGmail(s, mail);
    },
    async rateOf(businessId, senderId) {
      const r = await deps.db.asService('email.deliver.rate', (tx) =>
        tx.query<{ rate_per_second: number }>(
          'SELECT rate_per_second FROM app.email_senders WHERE id = $1 AND business_id = $2',
          [senderId, businessId],
        ),
      );
      return r.rows[0]?.rate_per_second;
    },
    close() {
      for (const t of transports.values()) t.transport.close();
      transports.clear();
      senders.clear();
    },
  };
}
