// A business that texts through the Twilio fake, and bulk outbox fixtures: N outbound
// messages (one per contact) queued with their outbox rows in one owner transaction,
// exactly as N requests would leave them (docs/ARCHITECTURE.md §24).
import { randomUUID } from 'node:crypto';
import type { Database, Engine } from '../../src/db/index.ts';
import { asOwner } from '../../src/db/engine.ts';
import { createTwilioClient } from '../../src/integrations/twilio/client.ts';
import { addTwilioConfig, setTwilioRate } from '../../src/integrations/twilio/configs.ts';
import { parseMasterKey } from '../../src/vault/master-key.ts';
import { createVault, type Vault } from '../../src/vault/secrets.ts';
import type { TwilioFake } from '../fakes/twilio.ts';
import { newBusiness, newUser } from './factories.ts';

export interface SmsWorld {
  businessId: string;
  ownerId: string;
  configId: string;
  number: string;
  vault: Vault;
}

let numbers = 0;

/** Owner, business and a Twilio configuration on the fake (its messages_per_second if given). */
export async function smsWorld(
  engine: Engine,
  db: Database,
  fake: TwilioFake,
  options: { masterKey: string; publicUrl?: string; messagesPerSecond?: number },
): Promise<SmsWorld> {
  const vault = createVault(parseMasterKey(options.masterKey));
  const owner = await newUser(engine);
  const business = await newBusiness(engine, owner.id);
  const account = fake.addAccount();
  const number = `+1555${String(process.pid % 1000).padStart(3, '0')}${String(++numbers).padStart(4, '0')}`;
  const cfg = await addTwilioConfig(
    { db, vault, twilio: createTwilioClient(fake.url), publicUrl: options.publicUrl ?? 'https://capto.test' },
    { userId: owner.id },
    business.id,
    { friendly_name: 'Main line', account_sid: account.sid, auth_token: account.authToken, phone_number: number },
  );
  if (options.messagesPerSecond !== undefined)
    await setTwilioRate(
      { db, publicUrl: options.publicUrl ?? 'https://capto.test' },
      { userId: owner.id },
      business.id,
      cfg.id,
      options.messagesPerSecond,
    );
  return { businessId: business.id, ownerId: owner.id, configId: cfg.id, number, vault };
}

/** Queue `n` SMS (distinct contacts, body "msg <i>"), each with its outbox row; returns the message ids. */
export async function queueMessages(engine: Engine, w: SmsWorld, n: number, body = (i: number) => `msg ${i}`) {
  const ids = Array.from({ length: n }, () => randomUUID());
  const bodies = ids.map((_, i) => body(i));
  const tag = randomUUID()
    .slice(0, 4)
    .replace(/[^0-9]/g, '7')
    .padEnd(4, '7');
  await asOwner(engine, async (c) => {
    await c.query(
      `WITH input AS (
         SELECT m.id, m.body, m.i, gen_random_uuid() AS contact_id, gen_random_uuid() AS conversation_id
           FROM unnest($3::uuid[], $4::text[]) WITH ORDINALITY AS m(id, body, i)),
       contacts AS (
         INSERT INTO app.contacts (id, business_id, first_name, phone)
         SELECT contact_id, $1, 'R' || i, '+1666' || $6 || lpad(i::text, 6, '0') FROM input RETURNING id),
       conversations AS (
         INSERT INTO app.conversations (id, business_id, contact_id, our_number, twilio_config_id)
         SELECT conversation_id, $1, contact_id, $5, $2 FROM input WHERE contact_id IN (SELECT id FROM contacts)
         RETURNING id)
       INSERT INTO app.messages (id, business_id, conversation_id, direction, body, status, sender_user_id)
       SELECT id, $1, conversation_id, 'outbound', body, 'queued', $7 FROM input
        WHERE conversation_id IN (SELECT id FROM conversations)`,
      [w.businessId, w.configId, ids, bodies, w.number, tag, w.ownerId],
    );
    await c.query(
      `INSERT INTO app.outbox (id, business_id, channel, sender_id, created_by)
       SELECT id, $1, 'sms', $2, $3 FROM unnest($4::uuid[]) AS id`,
      [w.businessId, w.configId, w.ownerId, ids],
    );
  });
  return ids;
}

/** The message id a fake message was sent for (from its StatusCallback `?m=`). */
export const messageIdOf = (statusCallback: string | undefined) =>
  statusCallback ? new URL(statusCallback).searchParams.get('m') : null;
