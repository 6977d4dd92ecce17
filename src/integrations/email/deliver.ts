// Delivering one email through a business's sender (docs/ARCHITECTURE.md "Email
// senders"). Called only by the outbox's email driver, never from a request. SMTP
// transports are pooled per sender and node and rebuilt when the sender changes
// (its updated_at); the host is re-checked (outbound-host) on every rebuild.
// Gmail: the raw RFC 822 message is POSTed to {GOOGLE_API_BASE}/gmail/v1/users/me/
// messages/send with the business's Google token, refreshed server-side.
//
// Failures are classified: `permanent` (SMTP 5xx on a recipient, Gmail 400) feeds the
// suppression list as a hard bounce and is never retried; `unknown` (no answer after the
// point of no return) must not be retried blindly; anything else is temporary and certain
// not to have been accepted — among them `local` ones (our database failed before the
// provider was reached), which the campaign drain retries without counting an attempt.
//
// The point of no return (docs/ARCHITECTURE.md §24 "Email"): a send may carry `beforeEnd`,
// which the outbox uses to record, fenced by its attempt, that the provider may have the
// message from now on. SMTP: it runs inside the DATA phase with the whole message written
// and only the terminating dot left — an SMTP server discards a message whose dot never
// came, so an attempt that died before `beforeEnd` committed certainly sent nothing. Gmail:
// it runs before the POST, and an unknown outcome is reconciled with `findSent`.
import { Readable } from 'node:stream';
import { nodemailer } from '../../mail/nodemailer.ts';
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
  readonly permanent: boolean;
  readonly code: string;
  /** Past the point of no return without an answer: the provider may have the message. */
  readonly unknown: boolean;
  constructor(message: string, permanent: boolean, code: string, unknown = false) {
    super(message);
    this.permanent = permanent;
    this.code = code;
    this.unknown = unknown;
  }

  /**
   * Failed on our side (our database) before the provider was reached: not the recipient's
   * attempt, so a retry of it is not counted against the recipient.
   */
  get local(): boolean {
    return this.code === 'sender_unavailable' || this.code === 'mark_failed';
  }
}

export interface SendHooks {
  /**
   * Called once, at the point of no return; resolves false when this attempt no longer owns
   * the message (then nothing is sent: the SMTP transaction is abandoned before its dot).
   */
  beforeEnd?: () => Promise<boolean>;
  timeoutMs?: number;
}

/** The `Message-ID` of an outbox message (without angle brackets). */
export const messageIdOf = (id: string, domain: string) => `${id}@${domain}`;

export interface EmailDelivery {
  send(businessId: string, senderId: string, mail: OutgoingEmail, hooks?: SendHooks): Promise<{ providerId: string }>;
  /** The sender's kind (for reconcile): undefined when it was removed. */
  kindOf(businessId: string, senderId: string): Promise<'smtp' | 'gmail' | undefined>;
  /**
   * Gmail only: the Gmail id of the message with this outbox id's Message-ID in the
   * account's mailbox (the Sent folder holds what messages.send accepted), or undefined.
   */
  findSent(businessId: string, senderId: string, id: string, timeoutMs: number): Promise<string | undefined>;
  /** The sender's campaign rate (messages per second), for throttling. */
  rateOf(businessId: string, senderId: string): Promise<number | undefined>;
  close(): void;
}

type Transport = ReturnType<ReturnType<typeof nodemailer>['createTransport']>;

/** Pooled SMTP connections per sender and node. */
export const SMTP_CONNECTIONS = 8;

const FENCED = 'the outbox attempt no longer owns this message';
/** nodemailer's error for a message still queued (or handed over) when its pool was closed. */
const POOL_CLOSED = /^Connection pool was closed/;

/** What became of a send's point of no return (read when the send fails). */
interface GateState {
  /** The mark committed: the dot was released, the server may have the message. */
  committed: boolean;
  /** The mark was refused: this attempt no longer owns the message. */
  refused: boolean;
  /** The mark could not be recorded (our database): nothing was sent. */
  markError?: Error;
}

/**
 * The message stream handed to the SMTP connection, which pipes it only once the server has
 * answered DATA. It holds the whole message back until then, and its end (after which the
 * connection writes the terminating dot) until `beforeEnd` has committed.
 */
function gated(input: NodeJS.ReadableStream, beforeEnd: () => Promise<boolean>, state: GateState) {
  const chunks: Buffer[] = [];
  let done = false;
  let failed: Error | undefined;
  let waiting: (() => void) | undefined;
  input.on('data', (c: Buffer) => chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
  input.on('end', () => ((done = true), waiting?.()));
  input.on('error', (e: Error) => ((failed = e), waiting?.()));
  let phase: 'body' | 'end' | 'over' = 'body';
  return new Readable({
    highWaterMark: 1,
    read() {
      if (phase === 'over') return;
      if (phase === 'body') {
        const go = () => {
          if (failed) return this.destroy(failed);
          phase = 'end';
          this.push(Buffer.concat(chunks));
        };
        if (done || failed) go();
        else waiting = go;
        return;
      }
      // The body is with the connection: only the dot is left. Record the point of no return first.
      phase = 'over';
      beforeEnd().then(
        (ok) => {
          if (!ok) {
            state.refused = true;
            return this.destroy(new Error(FENCED));
          }
          state.committed = true;
          this.push(null);
        },
        (e: unknown) => {
          state.markError = e as Error;
          this.destroy(e as Error);
        },
      );
    },
  });
}

export function createEmailDelivery(deps: {
  db: Database;
  vault: Vault;
  google?: GoogleConnection;
  googleApiBase: string;
  smtpPolicy: SmtpPolicy;
  messageIdDomain: string;
  fetchImpl?: typeof fetch;
  /** How long a loaded sender is reused (default 5 s): a change is seen within it. */
  senderTtlMs?: number;
}): EmailDelivery {
  // One pooled transport per sender and node, keyed by the sender's version (updated_at). The
  // promise is what is cached, not the transport: the first sends of a campaign arrive together
  // (workers × batch), and caching only the result let each of them build a pool of its own.
  const transports = new Map<string, { version: string; transport: Promise<Transport> }>();
  const doFetch = deps.fetchImpl ?? fetch;

  // A sender (password included) is cached per node for a few seconds, so a campaign does
  // not re-read and decrypt it for every message; a change or removal is seen within the TTL.
  // Loads are shared the same way: concurrent sends wait for one read instead of each taking
  // a database connection for it — 200 of them at once used to exhaust the pool under load,
  // and a send whose sender could not be loaded was left claimed until its lease ended.
  const senders = new Map<string, { at: number; sender: Promise<SenderForDelivery> }>();
  const senderTtlMs = deps.senderTtlMs ?? 5_000;
  function sender(businessId: string, senderId: string): Promise<SenderForDelivery> {
    const key = `${businessId}:${senderId}`;
    const hit = senders.get(key);
    if (hit && Date.now() - hit.at < senderTtlMs) return hit.sender;
    const entry = {
      at: Date.now(),
      sender: deps.db
        .asService('email.deliver.sender', (tx) => loadSenderForDelivery(tx, deps.vault, businessId, senderId))
        .then(
          (s) => {
            if (!s) throw removed();
            return s;
          },
          (e: unknown) => {
            // Our database, not the provider: nothing was sent, the caller may retry at once.
            throw new EmailDeliveryError(
              `the email sender could not be loaded: ${(e as Error).message}`.slice(0, 300),
              false,
              'sender_unavailable',
            );
          },
        ),
    };
    senders.set(key, entry);
    // A failed or empty load is not cached: the next send asks again.
    entry.sender.catch(() => {
      if (senders.get(key) === entry) senders.delete(key);
    });
    return entry.sender;
  }
  const removed = () => new EmailDeliveryError('the email sender was removed', true, 'sender_removed');

  function smtpTransport(s: SenderForDelivery): Promise<Transport> {
    const cached = transports.get(s.id);
    if (cached && cached.version === s.version) return cached.transport;
    // The sender changed (or its pool was dropped): retire the old pool — its idle connections
    // close now, a message in flight finishes first — and build one for the new settings.
    if (cached) retire(s.id, cached);
    const entry = { version: s.version, transport: buildTransport(s) };
    transports.set(s.id, entry);
    entry.transport.catch(() => {
      if (transports.get(s.id) === entry) transports.delete(s.id);
    });
    return entry.transport;
  }

  function retire(senderId: string, entry: { transport: Promise<Transport> }) {
    if (transports.get(senderId) === entry) transports.delete(senderId);
    entry.transport.then(
      (t) => t.close(),
      () => undefined,
    );
  }

  async function buildTransport(s: SenderForDelivery): Promise<Transport> {
    let options;
    try {
      options = await smtpTransportOptions(s.smtp!, deps.smtpPolicy, { pool: true, maxConnections: SMTP_CONNECTIONS });
    } catch (e) {
      // The host no longer passes the outbound check (e.g. DNS now points inside): permanent for this sender.
      throw new EmailDeliveryError((e as Error).message, true, (e as AppError).code ?? 'host_not_allowed');
    }
    const transport = nodemailer().createTransport(options);
    // A send with a point of no return streams through the gate (see `gated`).
    transport.use('stream', (mail, done) => {
      const hook = (mail.data as { capto?: { beforeEnd: () => Promise<boolean>; state: GateState } }).capto;
      if (hook) mail.message.processFunc((input) => gated(input, hook.beforeEnd, hook.state));
      done();
    });
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
      messageId: `<${messageIdOf(mail.id, deps.messageIdDomain)}>`,
      disableFileAccess: true,
      disableUrlAccess: true,
    };
  }

  async function viaSmtp(s: SenderForDelivery, mail: OutgoingEmail, hooks: SendHooks) {
    for (let tries = 1; ; tries++) {
      const transport = await smtpTransport(s);
      const state: GateState = { committed: false, refused: false };
      try {
        const info = await transport.sendMail({
          ...message(s, mail),
          ...(hooks.beforeEnd ? { capto: { beforeEnd: hooks.beforeEnd, state } } : {}),
        } as Parameters<Transport['sendMail']>[0]);
        if (info.rejected.length > 0)
          throw new EmailDeliveryError('the server rejected the recipient', true, 'rejected');
        return { providerId: `smtp:${mail.id}` };
      } catch (e) {
        if (e instanceof EmailDeliveryError) throw e;
        const err = e as { responseCode?: number; code?: string; response?: string; message?: string };
        const code = err.responseCode;
        // A pool retired because the sender changed, before this message reached one of its
        // connections: nothing was sent; it goes through the new pool.
        if (!state.committed && POOL_CLOSED.test(String(err.message ?? '')) && tries < 3) continue;
        if (state.refused) throw new EmailDeliveryError(FENCED, false, 'fenced');
        // Our database did not answer the point of no return: the dot was never written.
        if (state.markError)
          throw new EmailDeliveryError(
            `the point of no return could not be recorded: ${state.markError.message}`.slice(0, 300),
            false,
            'mark_failed',
          );
        // After the dot without a reply (timeout, dropped connection): the server may have it.
        if (state.committed && !code)
          throw new EmailDeliveryError(
            `SMTP ${err.code ?? 'error'} after the message was sent`,
            false,
            'smtp_no_reply',
            true,
          );
        // 5xx at RCPT/DATA is a hard bounce; an auth failure is the sender's problem, not the recipient's.
        if (code && code >= 500 && err.code !== 'EAUTH') {
          throw new EmailDeliveryError(`SMTP ${code}: ${(err.response ?? '').slice(0, 200)}`, true, `smtp_${code}`);
        }
        if (err.code === 'EAUTH') {
          const cached = transports.get(s.id);
          if (cached && cached.version === s.version) retire(s.id, cached);
        }
        throw new EmailDeliveryError(
          code ? `SMTP ${code}: ${(err.response ?? '').slice(0, 200)}` : `SMTP ${err.code ?? 'error'}`,
          false,
          code ? `smtp_${code}` : String(err.code ?? 'smtp_error').toLowerCase(),
        );
      }
    }
  }

  async function viaGmail(s: SenderForDelivery, mail: OutgoingEmail, hooks: SendHooks) {
    if (!deps.google)
      throw new EmailDeliveryError('Google is not set up on this server', true, 'google_not_configured');
    const raw = await new Promise<Buffer>((resolve, reject) => {
      nodemailer()
        .createTransport({ streamTransport: true, buffer: true, newline: 'windows' })
        .sendMail(message(s, mail), (err, info) => (err ? reject(err) : resolve(info.message as Buffer)));
    }).catch((e: unknown) => {
      throw new EmailDeliveryError(
        `the message could not be built: ${(e as Error).message}`.slice(0, 300),
        false,
        'compose_failed',
      );
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
      if (attempt === 0 && hooks.beforeEnd) {
        let owned: boolean;
        try {
          owned = await hooks.beforeEnd();
        } catch (e) {
          // Our database did not answer the point of no return: nothing was posted.
          throw new EmailDeliveryError(
            `the point of no return could not be recorded: ${(e as Error).message}`.slice(0, 300),
            false,
            'mark_failed',
          );
        }
        if (!owned) throw new EmailDeliveryError(FENCED, false, 'fenced');
      }
      let res: Response;
      try {
        res = await doFetch(`${deps.googleApiBase}/gmail/v1/users/me/messages/send`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ raw: raw.toString('base64url') }),
          redirect: 'error',
          signal: AbortSignal.timeout(hooks.timeoutMs ?? 20_000),
        });
      } catch {
        // The request may have arrived: reconcile (findSent) before any new attempt.
        throw new EmailDeliveryError('Gmail could not be reached', false, 'gmail_unreachable', true);
      }
      if (res.ok) {
        const body = (await res.json().catch(() => ({}))) as { id?: string };
        return { providerId: `gmail:${body.id ?? mail.id}` };
      }
      await res.body?.cancel();
      if (res.status === 401 && attempt === 0) continue; // token revoked early: force a refresh once
      const permanent = res.status === 400 || res.status === 403 || res.status === 404;
      throw new EmailDeliveryError(`Gmail answered ${res.status}`, permanent, `gmail_${res.status}`, res.status >= 500);
    }
    throw new EmailDeliveryError('Gmail refused the token', false, 'gmail_401');
  }

  return {
    async send(businessId, senderId, mail, hooks = {}) {
      const s = await sender(businessId, senderId);
      return s.kind === 'smtp' ? viaSmtp(s, mail, hooks) : viaGmail(s, mail, hooks);
    },
    async kindOf(businessId, senderId) {
      try {
        return (await sender(businessId, senderId)).kind;
      } catch (e) {
        if (e instanceof EmailDeliveryError && e.code === 'sender_removed') return undefined;
        throw e;
      }
    },
    async findSent(businessId, senderId, id, timeoutMs) {
      const s = await sender(businessId, senderId);
      if (s.kind !== 'gmail' || !deps.google) return undefined;
      const token = await deps.google.accessToken(s.businessId, 60);
      const q = encodeURIComponent(`rfc822msgid:${messageIdOf(id, deps.messageIdDomain)}`);
      const res = await doFetch(`${deps.googleApiBase}/gmail/v1/users/me/messages?q=${q}&includeSpamTrash=true`, {
        headers: { authorization: `Bearer ${token}` },
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) {
        await res.body?.cancel();
        throw new EmailDeliveryError(`Gmail answered ${res.status} to the lookup`, false, `gmail_${res.status}`);
      }
      const body = (await res.json().catch(() => ({}))) as { messages?: { id: string }[] };
      const found = body.messages?.[0]?.id;
      return found ? `gmail:${found}` : undefined;
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
      for (const [id, t] of [...transports]) retire(id, t);
      senders.clear();
    },
  };
}
