// Email senders per business (docs/ARCHITECTURE.md "Email senders"), managed like
// Twilio configurations: members read the list; every change is ONE capto_service
// transaction that re-checks the caller's role under a row lock, writes the audit
// row, makes the change and seals/replaces/deletes the SMTP password — and the
// database refuses the change without that audit row by an owner or admin (0081).
//
// A stored password is only ever sent to the host, port and username it was entered
// for: changing any of them (or `security`) requires the password again, and the new
// settings are verified (SMTP AUTH) before they are saved.
import { randomUUID } from 'node:crypto';
import type { Database, Tx } from '../../db/index.ts';
import { recordIntegrationChange, type AuditDetails } from '../../audit/integration-events.ts';
import { AppError, notFound } from '../../shared/errors.ts';
import { normaliseHost } from '../../shared/outbound-host.ts';
import type { Vault } from '../../vault/secrets.ts';
import { assertCanManageIntegrations, type Actor } from '../permissions.ts';
import { verifySmtp, type SmtpPolicy, type SmtpSecurity, type SmtpSettings } from './smtp.ts';

export const GMAIL_SEND_SCOPE = 'https://www.googleapis.com/auth/gmail.send';

export interface EmailSenderDeps {
  db: Database;
  vault: Vault;
  smtpPolicy: SmtpPolicy;
  /** Replaceable in tests; defaults to a real SMTP AUTH check. */
  verify?: (s: SmtpSettings, policy: SmtpPolicy) => Promise<void>;
}

export interface EmailSenderView {
  id: string;
  kind: 'smtp' | 'gmail';
  from_name: string;
  from_email: string;
  host: string | null;
  port: number | null;
  security: SmtpSecurity | null;
  username: string | null;
  rate_per_second: number;
  is_default: boolean;
  created_by: string | null;
  created_by_email: string | null;
  created_at: string;
  updated_at: string;
}

export type NewEmailSender =
  | {
      kind: 'smtp';
      host: string;
      port: number;
      security: SmtpSecurity;
      username: string;
      password: string;
      from_email: string;
      from_name: string;
      rate_per_second?: number;
    }
  | { kind: 'gmail'; from_name: string; rate_per_second?: number };

export interface EmailSenderPatch {
  host?: string;
  port?: number;
  security?: SmtpSecurity;
  username?: string;
  password?: string;
  from_email?: string;
  from_name?: string;
  rate_per_second?: number;
}

type Row = Omit<EmailSenderView, 'created_at' | 'updated_at'> & { created_at: Date; updated_at: Date };

const view = (r: Row): EmailSenderView => ({
  ...r,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

const SELECT_VIEW = `SELECT s.id, s.kind, s.from_name, s.from_email, s.host, s.port, s.security, s.username,
  s.rate_per_second, s.is_default, s.created_by, s.created_at, s.updated_at,
  (SELECT u.email::text FROM auth.users u WHERE u.id = s.created_by) AS created_by_email
  FROM app.email_senders s`;

/** The list, as the caller (any member). */
export async function listEmailSenders(tx: Tx, businessId: string): Promise<EmailSenderView[]> {
  const r = await tx.query<Row>(`${SELECT_VIEW} WHERE s.business_id = $1 ORDER BY s.created_at, s.id`, [businessId]);
  return r.rows.map(view);
}

const auditOf = (r: {
  kind: string;
  from_name: string;
  from_email: string;
  host: string | null;
  port: number | null;
  security: string | null;
  username: string | null;
}): AuditDetails => ({
  kind: r.kind,
  from_name: r.from_name,
  from_email: r.from_email,
  ...(r.kind === 'smtp'
    ? { host: r.host ?? undefined, port: r.port ?? undefined, security: r.security ?? undefined }
    : {}),
  ...(r.username ? { username: r.username } : {}),
});

async function gmailAddress(tx: Tx, businessId: string): Promise<string> {
  const g = await tx.query<{ google_email: string | null; scopes: string[] }>(
    'SELECT google_email, scopes FROM app.google_connections WHERE business_id = $1',
    [businessId],
  );
  const row = g.rows[0];
  if (!row || !row.google_email || !row.scopes.includes(GMAIL_SEND_SCOPE)) {
    throw new AppError(
      'google_not_connected',
      'connect a Google account with permission to send mail (Settings → Integrations → Google) first',
    );
  }
  return row.google_email.toLowerCase();
}

export async function addEmailSender(
  deps: EmailSenderDeps,
  actor: Actor,
  businessId: string,
  input: NewEmailSender,
): Promise<EmailSenderView> {
  // Role first, so members cause no connection to anywhere.
  await deps.db.asService('integrations.email.precheck', (tx) =>
    assertCanManageIntegrations(tx, businessId, actor.userId),
  );
  let host: string | null = null;
  if (input.kind === 'smtp') {
    host = normaliseHost(input.host);
    // Verify the login before saving, outside any transaction (no lock across the network).
    await (deps.verify ?? verifySmtp)({ ...input, host }, deps.smtpPolicy);
  }
  const id = randomUUID();
  return deps.db.asService('integrations.email.add', async (tx) => {
    await assertCanManageIntegrations(tx, businessId, actor.userId);
    const fromEmail = input.kind === 'gmail' ? await gmailAddress(tx, businessId) : input.from_email;
    const row = {
      kind: input.kind,
      from_name: input.from_name,
      from_email: fromEmail,
      host,
      port: input.kind === 'smtp' ? input.port : null,
      security: input.kind === 'smtp' ? input.security : null,
      username: input.kind === 'smtp' ? input.username : null,
    };
    await recordIntegrationChange(tx, {
      businessId,
      actorUserId: actor.userId,
      action: 'email.sender.added',
      subjectId: id,
      details: auditOf(row),
      ip: actor.ip,
      userAgent: actor.userAgent,
    });
    const secretId =
      input.kind === 'smtp'
        ? await deps.vault.putSecret(tx, { businessId, kind: 'smtp.password', plaintext: input.password })
        : null;
    // Under the audit lock of this business: the first sender becomes the default.
    await tx.query(
      `INSERT INTO app.email_senders
         (id, business_id, kind, from_name, from_email, host, port, security, username, secret_id, rate_per_second, created_by, is_default)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NOT EXISTS (SELECT 1 FROM app.email_senders WHERE business_id = $2)`,
      [
        id,
        businessId,
        row.kind,
        row.from_name,
        row.from_email,
        row.host,
        row.port,
        row.security,
        row.username,
        secretId,
        input.rate_per_second ?? 5,
        actor.userId,
      ],
    );
    const r = await tx.query<Row>(`${SELECT_VIEW} WHERE s.id = $1`, [id]);
    return view(r.rows[0]!);
  });
}

interface StoredSender {
  id: string;
  kind: 'smtp' | 'gmail';
  from_name: string;
  from_email: string;
  host: string | null;
  port: number | null;
  security: SmtpSecurity | null;
  username: string | null;
  secret_id: string | null;
  rate_per_second: number;
  is_default: boolean;
  updated_at: Date;
}

const SELECT_STORED = `SELECT id, kind, from_name, from_email, host, port, security, username, secret_id, rate_per_second,
  is_default, updated_at FROM app.email_senders`;

export async function updateEmailSender(
  deps: EmailSenderDeps,
  actor: Actor,
  businessId: string,
  senderId: string,
  patch: EmailSenderPatch,
): Promise<EmailSenderView> {
  const before = await deps.db.asService('integrations.email.precheck', async (tx) => {
    await assertCanManageIntegrations(tx, businessId, actor.userId);
    const r = await tx.query<StoredSender>(`${SELECT_STORED} WHERE id = $1 AND business_id = $2`, [
      senderId,
      businessId,
    ]);
    if (!r.rows[0]) throw notFound('email sender');
    return r.rows[0];
  });
  const next = {
    from_name: patch.from_name ?? before.from_name,
    from_email: patch.from_email ?? before.from_email,
    host: patch.host !== undefined ? normaliseHost(patch.host) : before.host,
    port: patch.port ?? before.port,
    security: patch.security ?? before.security,
    username: patch.username ?? before.username,
    rate_per_second: patch.rate_per_second ?? before.rate_per_second,
  };
  if (before.kind === 'gmail') {
    const smtpOnly = (['host', 'port', 'security', 'username', 'password', 'from_email'] as const).filter(
      (k) => patch[k] !== undefined,
    );
    if (smtpOnly.length > 0)
      throw new AppError(
        'validation_failed',
        `a Gmail sender has no ${smtpOnly.join(', ')}: it sends as the connected account`,
      );
  }
  const destinationChanged =
    next.host !== before.host ||
    next.port !== before.port ||
    next.username !== before.username ||
    next.security !== before.security;
  if (before.kind === 'smtp' && destinationChanged && patch.password === undefined) {
    throw new AppError(
      'password_required',
      'changing the host, port, security or username requires entering the password again',
    );
  }
  if (before.kind === 'smtp' && patch.password !== undefined) {
    await (deps.verify ?? verifySmtp)(
      {
        host: next.host!,
        port: next.port!,
        security: next.security!,
        username: next.username!,
        password: patch.password,
      },
      deps.smtpPolicy,
    );
  }
  return deps.db.asService('integrations.email.update', async (tx) => {
    await assertCanManageIntegrations(tx, businessId, actor.userId);
    const r = await tx.query<StoredSender>(`${SELECT_STORED} WHERE id = $1 AND business_id = $2 FOR UPDATE`, [
      senderId,
      businessId,
    ]);
    const cur = r.rows[0];
    if (!cur) throw notFound('email sender');
    // The password was verified against `next`; a concurrent edit in between would
    // make that check meaningless.
    if (cur.updated_at.getTime() !== before.updated_at.getTime())
      throw new AppError('conflict', 'the sender was changed meanwhile; reload and try again');
    const changed = (Object.keys(next) as Array<keyof typeof next>).filter((k) => next[k] !== cur[k]);
    if (patch.password !== undefined) changed.push('password' as never);
    if (changed.length === 0) return view({ ...(await reread(tx, senderId)) });
    await recordIntegrationChange(tx, {
      businessId,
      actorUserId: actor.userId,
      action: 'email.sender.updated',
      subjectId: senderId,
      details: { ...auditOf({ kind: cur.kind, ...next }), changed: changed.map(String) },
      ip: actor.ip,
      userAgent: actor.userAgent,
    });
    let secretId = cur.secret_id;
    if (patch.password !== undefined && cur.kind === 'smtp') {
      // A new secret row (not replaced in place), so the change is visible to the
      // audit trigger as an update of secret_id, and the old ciphertext is deleted.
      secretId = await deps.vault.putSecret(tx, { businessId, kind: 'smtp.password', plaintext: patch.password });
    }
    await tx.query(
      `UPDATE app.email_senders
          SET from_name = $3, from_email = $4, host = $5, port = $6, security = $7, username = $8,
              rate_per_second = $9, secret_id = $10, updated_at = clock_timestamp()
        WHERE id = $1 AND business_id = $2`,
      [
        senderId,
        businessId,
        next.from_name,
        next.from_email,
        next.host,
        next.port,
        next.security,
        next.username,
        next.rate_per_second,
        secretId,
      ],
    );
    if (secretId !== cur.secret_id && cur.secret_id)
      await deps.vault.deleteSecret(tx, { businessId, id: cur.secret_id });
    return view(await reread(tx, senderId));
  });
}

async function reread(tx: Tx, id: string): Promise<Row> {
  const r = await tx.query<Row>(`${SELECT_VIEW} WHERE s.id = $1`, [id]);
  return r.rows[0]!;
}

export async function removeEmailSender(
  deps: EmailSenderDeps,
  actor: Actor,
  businessId: string,
  senderId: string,
): Promise<void> {
  await deps.db.asService('integrations.email.remove', async (tx) => {
    await assertCanManageIntegrations(tx, businessId, actor.userId);
    const r = await tx.query<StoredSender>(`${SELECT_STORED} WHERE id = $1 AND business_id = $2 FOR UPDATE`, [
      senderId,
      businessId,
    ]);
    const cur = r.rows[0];
    if (!cur) throw notFound('email sender');
    await recordIntegrationChange(tx, {
      businessId,
      actorUserId: actor.userId,
      action: 'email.sender.removed',
      subjectId: senderId,
      details: auditOf(cur),
      ip: actor.ip,
      userAgent: actor.userAgent,
    });
    await tx.query('DELETE FROM app.email_senders WHERE id = $1 AND business_id = $2', [senderId, businessId]);
    if (cur.secret_id) await deps.vault.deleteSecret(tx, { businessId, id: cur.secret_id });
    if (cur.is_default) {
      const n = await tx.query<StoredSender>(
        `${SELECT_STORED} WHERE business_id = $1 ORDER BY created_at, id LIMIT 1 FOR UPDATE`,
        [businessId],
      );
      const nx = n.rows[0];
      if (nx) {
        await recordIntegrationChange(tx, {
          businessId,
          actorUserId: actor.userId,
          action: 'email.sender.default_set',
          subjectId: nx.id,
          details: { ...auditOf(nx), reason: 'previous_default_removed' },
          ip: actor.ip,
          userAgent: actor.userAgent,
        });
        await tx.query('UPDATE app.email_senders SET is_default = true WHERE id = $1', [nx.id]);
      }
    }
  });
}

export async function setDefaultEmailSender(
  deps: EmailSenderDeps,
  actor: Actor,
  businessId: string,
  senderId: string,
): Promise<EmailSenderView> {
  return deps.db.asService('integrations.email.default', async (tx) => {
    await assertCanManageIntegrations(tx, businessId, actor.userId);
    const r = await tx.query<StoredSender>(`${SELECT_STORED} WHERE id = $1 AND business_id = $2 FOR UPDATE`, [
      senderId,
      businessId,
    ]);
    const cur = r.rows[0];
    if (!cur) throw notFound('email sender');
    if (!cur.is_default) {
      await recordIntegrationChange(tx, {
        businessId,
        actorUserId: actor.userId,
        action: 'email.sender.default_set',
        subjectId: senderId,
        details: auditOf(cur),
        ip: actor.ip,
        userAgent: actor.userAgent,
      });
      await tx.query('UPDATE app.email_senders SET is_default = false WHERE business_id = $1 AND is_default', [
        businessId,
      ]);
      await tx.query('UPDATE app.email_senders SET is_default = true WHERE id = $1', [senderId]);
    }
    return view(await reread(tx, senderId));
  });
}

/** What delivery needs, password included. `tx` must be a capto_service transaction. */
export interface SenderForDelivery {
  id: string;
  businessId: string;
  kind: 'smtp' | 'gmail';
  fromName: string;
  fromEmail: string;
  ratePerSecond: number;
  version: string;
  smtp?: SmtpSettings;
}

export async function loadSenderForDelivery(
  tx: Tx,
  vault: Vault,
  businessId: string,
  senderId: string,
): Promise<SenderForDelivery | undefined> {
  const r = await tx.query<StoredSender>(`${SELECT_STORED} WHERE id = $1 AND business_id = $2`, [senderId, businessId]);
  const row = r.rows[0];
  if (!row) return undefined;
  const out: SenderForDelivery = {
    id: row.id,
    businessId,
    kind: row.kind,
    fromName: row.from_name,
    fromEmail: row.from_email,
    ratePerSecond: row.rate_per_second,
    version: row.updated_at.toISOString(),
  };
  if (row.kind === 'smtp') {
    const password = await vault.readSecret(tx, { businessId, id: row.secret_id!, kind: 'smtp.password' });
    out.smtp = {
      host: row.host!,
      port: row.port!,
      security: row.security!,
      username: row.username!,
      password,
    };
  }
  return out;
}
