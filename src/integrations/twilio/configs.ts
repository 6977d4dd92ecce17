// Bring-your-own Twilio configurations. Reads run as the caller (RLS:
// members see the list, masked). Every change runs in ONE capto_service transaction
// that re-checks the caller's role under a row lock, writes the audit row, makes the
// change and seals/deletes the token — and the database refuses the change unless
// that audit row, by an owner or admin, is in the same transaction (0005).
import { randomUUID } from 'node:crypto';
import type { Database, Tx } from '../../db/index.ts';
import { recordIntegrationChange } from '../../audit/integration-events.ts';
import { AppError, notFound } from '../../shared/errors.ts';
import type { Vault } from '../../vault/secrets.ts';
import { assertCanManageIntegrations, type Actor } from '../permissions.ts';
import type { TwilioClient } from './client.ts';
import { twilioWebhookUrls } from './signature.ts';

export interface TwilioDeps {
  db: Database;
  vault: Vault;
  twilio: TwilioClient;
  publicUrl: string;
}

export interface TwilioConfigView {
  id: string;
  friendly_name: string;
  account_sid: string; // always masked: AC…1234
  phone_number: string;
  is_default: boolean;
  /** The number's throughput cap (docs/ARCHITECTURE.md §24 "Per-number cap"). */
  messages_per_second: number;
  created_by: string | null;
  created_by_email: string | null;
  created_at: string;
  webhooks: { sms: string; status: string };
}

export interface NewTwilioConfig {
  friendly_name: string;
  account_sid: string;
  auth_token: string;
  phone_number: string;
}

type Row = {
  id: string;
  friendly_name: string;
  account_sid_masked: string;
  phone_number: string;
  is_default: boolean;
  messages_per_second: number;
  created_by: string | null;
  created_by_email: string | null;
  created_at: Date;
};

const view = (publicUrl: string, r: Row): TwilioConfigView => ({
  id: r.id,
  friendly_name: r.friendly_name,
  account_sid: r.account_sid_masked,
  phone_number: r.phone_number,
  is_default: r.is_default,
  messages_per_second: r.messages_per_second,
  created_by: r.created_by,
  created_by_email: r.created_by_email,
  created_at: r.created_at.toISOString(),
  webhooks: twilioWebhookUrls(publicUrl, r.id),
});

const SELECT_VIEW = `SELECT t.id, t.friendly_name, t.account_sid_masked, t.phone_number, t.is_default, t.messages_per_second, t.created_by, t.created_at,
  (SELECT u.email::text FROM auth.users u WHERE u.id = t.created_by) AS created_by_email
  FROM app.twilio_configs t`;

/** The list, as the caller (any member). */
export async function listTwilioConfigs(tx: Tx, publicUrl: string, businessId: string): Promise<TwilioConfigView[]> {
  const r = await tx.query<Row>(`${SELECT_VIEW} WHERE t.business_id = $1 ORDER BY t.created_at, t.id`, [businessId]);
  return r.rows.map((row) => view(publicUrl, row));
}

const mask = (sid: string) => `AC…${sid.slice(-4)}`;

export async function addTwilioConfig(
  deps: TwilioDeps,
  actor: Actor,
  businessId: string,
  input: NewTwilioConfig,
): Promise<TwilioConfigView> {
  // Fail fast (and without calling Twilio) for callers who may not do this at all.
  await deps.db.asService('integrations.twilio.precheck', (tx) =>
    assertCanManageIntegrations(tx, businessId, actor.userId),
  );
  // Verify before saving, outside any transaction: no lock is held across the network.
  if (!(await deps.twilio.verifyCredentials(input.account_sid, input.auth_token))) {
    throw new AppError('twilio_credentials_invalid', 'Twilio did not accept this Account SID and auth token');
  }
  const id = randomUUID();
  return deps.db.asService('integrations.twilio.add', async (tx) => {
    await assertCanManageIntegrations(tx, businessId, actor.userId);
    await recordIntegrationChange(tx, {
      businessId,
      actorUserId: actor.userId,
      action: 'twilio.config.added',
      subjectId: id,
      details: {
        friendly_name: input.friendly_name,
        phone_number: input.phone_number,
        account_sid_masked: mask(input.account_sid),
      },
      ip: actor.ip,
      userAgent: actor.userAgent,
    });
    const secretId = await deps.vault.putSecret(tx, {
      businessId,
      kind: 'twilio.auth_token',
      plaintext: input.auth_token,
    });
    // Under the audit lock of this business: the first configuration becomes the default.
    await tx
      .query(
        `INSERT INTO app.twilio_configs (id, business_id, friendly_name, account_sid, phone_number, secret_id, created_by, is_default)
       SELECT $1, $2, $3, $4, $5, $6, $7, NOT EXISTS (SELECT 1 FROM app.twilio_configs WHERE business_id = $2)`,
        [id, businessId, input.friendly_name, input.account_sid, input.phone_number, secretId, actor.userId],
      )
      .catch((e: { code?: string; constraint?: string }) => {
        if (e.code === '23505' && e.constraint === 'twilio_configs_business_id_phone_number_key') {
          throw new AppError('conflict', 'this business already has a configuration for that phone number');
        }
        throw e;
      });
    const r = await tx.query<Row>(`${SELECT_VIEW} WHERE t.id = $1`, [id]);
    return view(deps.publicUrl, r.rows[0]!);
  });
}

export async function removeTwilioConfig(
  deps: TwilioDeps,
  actor: Actor,
  businessId: string,
  configId: string,
): Promise<void> {
  await deps.db.asService('integrations.twilio.remove', async (tx) => {
    await assertCanManageIntegrations(tx, businessId, actor.userId);
    const found = await tx.query<{
      friendly_name: string;
      account_sid_masked: string;
      phone_number: string;
      secret_id: string;
      is_default: boolean;
    }>(
      'SELECT friendly_name, account_sid_masked, phone_number, secret_id, is_default FROM app.twilio_configs WHERE id = $1 AND business_id = $2 FOR UPDATE',
      [configId, businessId],
    );
    const cfg = found.rows[0];
    if (!cfg) throw notFound('Twilio configuration');
    const details = {
      friendly_name: cfg.friendly_name,
      phone_number: cfg.phone_number,
      account_sid_masked: cfg.account_sid_masked,
    };
    await recordIntegrationChange(tx, {
      businessId,
      actorUserId: actor.userId,
      action: 'twilio.config.removed',
      subjectId: configId,
      details,
      ip: actor.ip,
      userAgent: actor.userAgent,
    });
    await tx.query('DELETE FROM app.twilio_configs WHERE id = $1 AND business_id = $2', [configId, businessId]);
    await deps.vault.deleteSecret(tx, { businessId, id: cfg.secret_id });
    if (cfg.is_default) {
      // Keep "exactly one default" while any configuration remains: the oldest takes over,
      // and that is a default change of its own, audited as such.
      const next = await tx.query<{
        id: string;
        friendly_name: string;
        account_sid_masked: string;
        phone_number: string;
      }>(
        'SELECT id, friendly_name, account_sid_masked, phone_number FROM app.twilio_configs WHERE business_id = $1 ORDER BY created_at, id LIMIT 1 FOR UPDATE',
        [businessId],
      );
      const n = next.rows[0];
      if (n) {
        await recordIntegrationChange(tx, {
          businessId,
          actorUserId: actor.userId,
          action: 'twilio.config.default_set',
          subjectId: n.id,
          details: {
            friendly_name: n.friendly_name,
            phone_number: n.phone_number,
            account_sid_masked: n.account_sid_masked,
            reason: 'previous_default_removed',
          },
          ip: actor.ip,
          userAgent: actor.userAgent,
        });
        await tx.query('UPDATE app.twilio_configs SET is_default = true WHERE id = $1', [n.id]);
      }
    }
  });
}

export async function setDefaultTwilioConfig(
  deps: TwilioDeps,
  actor: Actor,
  businessId: string,
  configId: string,
): Promise<TwilioConfigView> {
  return deps.db.asService('integrations.twilio.default', async (tx) => {
    await assertCanManageIntegrations(tx, businessId, actor.userId);
    const found = await tx.query<{
      friendly_name: string;
      account_sid_masked: string;
      phone_number: string;
      is_default: boolean;
    }>(
      'SELECT friendly_name, account_sid_masked, phone_number, is_default FROM app.twilio_configs WHERE id = $1 AND business_id = $2 FOR UPDATE',
      [configId, businessId],
    );
    const cfg = found.rows[0];
    if (!cfg) throw notFound('Twilio configuration');
    if (!cfg.is_default) {
      await recordIntegrationChange(tx, {
        businessId,
        actorUserId: actor.userId,
        action: 'twilio.config.default_set',
        subjectId: configId,
        details: {
          friendly_name: cfg.friendly_name,
          phone_number: cfg.phone_number,
          account_sid_masked: cfg.account_sid_masked,
        },
        ip: actor.ip,
        userAgent: actor.userAgent,
      });
      // Clear the old default first: the partial unique index allows one at a time.
      await tx.query('UPDATE app.twilio_configs SET is_default = false WHERE business_id = $1 AND is_default', [
        businessId,
      ]);
      await tx.query('UPDATE app.twilio_configs SET is_default = true WHERE id = $1', [configId]);
    }
    const r = await tx.query<Row>(`${SELECT_VIEW} WHERE t.id = $1`, [configId]);
    return view(deps.publicUrl, r.rows[0]!);
  });
}

/**
 * Set a number's throughput cap (owner/admin): the outbox and campaign delivery reserve its
 * send slots at this rate. Audited as `twilio.config.updated` in the same service
 * transaction (the database refuses the change without that row — 0087).
 */
export async function setTwilioRate(
  deps: Pick<TwilioDeps, 'db' | 'publicUrl'>,
  actor: Actor,
  businessId: string,
  configId: string,
  messagesPerSecond: number,
): Promise<TwilioConfigView> {
  return deps.db.asService('integrations.twilio.rate', async (tx) => {
    await assertCanManageIntegrations(tx, businessId, actor.userId);
    const found = await tx.query<{
      friendly_name: string;
      account_sid_masked: string;
      phone_number: string;
      messages_per_second: number;
    }>(
      'SELECT friendly_name, account_sid_masked, phone_number, messages_per_second FROM app.twilio_configs WHERE id = $1 AND business_id = $2 FOR UPDATE',
      [configId, businessId],
    );
    const cfg = found.rows[0];
    if (!cfg) throw notFound('Twilio configuration');
    if (cfg.messages_per_second !== messagesPerSecond) {
      await recordIntegrationChange(tx, {
        businessId,
        actorUserId: actor.userId,
        action: 'twilio.config.updated',
        subjectId: configId,
        details: {
          friendly_name: cfg.friendly_name,
          phone_number: cfg.phone_number,
          account_sid_masked: cfg.account_sid_masked,
          changed: ['messages_per_second'],
          previous_messages_per_second: cfg.messages_per_second,
          messages_per_second: messagesPerSecond,
        },
        ip: actor.ip,
        userAgent: actor.userAgent,
      });
      await tx.query('UPDATE app.twilio_configs SET messages_per_second = $3 WHERE id = $1 AND business_id = $2', [
        configId,
        businessId,
        messagesPerSecond,
      ]);
    }
    const r = await tx.query<Row>(`${SELECT_VIEW} WHERE t.id = $1`, [configId]);
    return view(deps.publicUrl, r.rows[0]!);
  });
}

export interface TwilioCredentials {
  configId: string;
  businessId: string;
  accountSid: string;
  phoneNumber: string;
  authToken: string;
}

/** Decrypt a configuration's token. `tx` must be a capto_service transaction. */
export async function loadTwilioCredentials(
  tx: Tx,
  vault: Vault,
  configId: string,
): Promise<TwilioCredentials | undefined> {
  const r = await tx.query<{ business_id: string; account_sid: string; phone_number: string; secret_id: string }>(
    'SELECT business_id, account_sid, phone_number, secret_id FROM app.twilio_configs WHERE id = $1',
    [configId],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  const authToken = await vault.readSecret(tx, {
    businessId: row.business_id,
    id: row.secret_id,
    kind: 'twilio.auth_token',
  });
  return {
    configId,
    businessId: row.business_id,
    accountSid: row.account_sid,
    phoneNumber: row.phone_number,
    authToken,
  };
}
