// SMTP for tenant email senders (docs/ARCHITECTURE.md "Email senders"). The host is
// tenant input: it is resolved and checked once (src/shared/outbound-host.ts) and the
// connection goes to the checked address, with TLS verifying the entered name (SNI +
// certificate). `security`: `tls` = implicit TLS (465), `starttls` = STARTTLS required
// (no silent fallback to plaintext), `none` = plaintext, only to a loopback/private
// relay, which itself needs the operator flag CAPTO_ALLOW_PRIVATE_HOSTS=on.
import net from 'node:net';
import { nodemailer } from '../../mail/nodemailer.ts';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { AppError } from '../../shared/errors.ts';
import { resolveOutboundHost } from '../../shared/outbound-host.ts';

export type SmtpSecurity = 'tls' | 'starttls' | 'none';

export interface SmtpSettings {
  host: string;
  port: number;
  security: SmtpSecurity;
  username: string;
  password: string;
}

export interface SmtpPolicy {
  allowPrivateHosts: boolean;
}

/** nodemailer options for a checked host; throws 400 host_not_allowed / smtp_plaintext_refused. */
export async function smtpTransportOptions(
  s: SmtpSettings,
  policy: SmtpPolicy,
  extra: { pool?: boolean; maxConnections?: number } = {},
): Promise<SMTPTransport.Options & { pool?: boolean; maxConnections?: number; maxMessages?: number }> {
  const resolved = await resolveOutboundHost(s.host, { allowPrivate: policy.allowPrivateHosts });
  if (s.security === 'none' && !(policy.allowPrivateHosts && resolved.private)) {
    throw new AppError(
      'smtp_plaintext_refused',
      'security "none" (plaintext) is only allowed to a relay on a loopback or private address; use tls or starttls',
    );
  }
  return {
    host: resolved.addresses[0]!.address,
    port: s.port,
    secure: s.security === 'tls',
    requireTLS: s.security === 'starttls',
    ignoreTLS: s.security === 'none',
    auth: { user: s.username, pass: s.password },
    tls: {
      // Verify the certificate against the name the tenant entered, not the IP we dial.
      servername: net.isIP(resolved.host) ? undefined : resolved.host,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
    },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    // Attachments/alternatives never come from a path or URL (nothing tenant-given is read).
    disableFileAccess: true,
    disableUrlAccess: true,
    ...(extra.pool ? { pool: true, maxConnections: extra.maxConnections ?? 2, maxMessages: Infinity } : {}),
  };
}

/** What an SMTP failure means for the caller, without echoing anything secret. */
export function smtpFailure(e: unknown): AppError {
  if (e instanceof AppError) return e;
  const err = e as { code?: string; responseCode?: number; message?: string };
  if (err.code === 'EAUTH') {
    return new AppError('smtp_auth_failed', 'the SMTP server did not accept this username and password', {
      details: err.responseCode ? { smtp_code: err.responseCode } : undefined,
    });
  }
  if (err.code === 'ETLS' || /certificate|self.signed|SSL|TLS/i.test(err.message ?? '')) {
    return new AppError(
      'smtp_connection_failed',
      'could not establish TLS with the SMTP server (certificate not trusted, or no STARTTLS offered)',
    );
  }
  return new AppError('smtp_connection_failed', 'could not connect to the SMTP server', {
    details: err.code ? { reason: String(err.code).slice(0, 40) } : undefined,
  });
}

/** Connect and log in (SMTP AUTH), then hang up. Throws 4xx AppErrors. */
export async function verifySmtp(s: SmtpSettings, policy: SmtpPolicy): Promise<void> {
  const transport = nodemailer().createTransport(await smtpTransportOptions(s, policy));
  try {
    await transport.verify();
  } catch (e) {
    throw smtpFailure(e);
  } finally {
    transport.close();
  }
}
