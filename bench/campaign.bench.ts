// Campaign throughput on server PostgreSQL (docs/ARCHITECTURE.md §21 "Campaigns"):
// 1. audience build — the real start (POST …/start's startCampaign, as the admin through
//    RLS): judge every member of a BENCH_CAMPAIGN_RECIPIENTS list (default 20,000; the goal,
//    30 s for 100,000, scales with it) and insert one recipient row and one outbox row each; baseline: a bare INSERT … SELECT of the same list's
//    members as the owner role (no judging, no RLS).
// 2. recipients/s for BENCH_CAMPAIGN_SENDS (default 2,000) from "Send" to the SMTP sink with throttling off — the real campaign drain
//    (batched claim, render, footer, unsubscribe link, point-of-no-return marks, send, batched
//    record) into a real SMTP server on
//    loopback; baseline: nodemailer alone sending the same number of pre-rendered messages
//    over the same kind of pool to the same sink (what the wire costs without Capto).
import { randomBytes, randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { openServerEngine } from '../src/db/server-engine.ts';
import { migrate } from '../src/db/migrator.ts';
import { createDatabase } from '../src/db/request.ts';
import { createEmailDelivery } from '../src/integrations/email/deliver.ts';
import { addEmailSender } from '../src/integrations/email/senders.ts';
import { createTwilioClient } from '../src/integrations/twilio/client.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createCampaign, getCampaign, startCampaign } from '../src/outreach/campaigns.ts';
import { createCampaignDispatcher } from '../src/outreach/dispatcher.ts';
import { createUnsubscribeTokens } from '../src/outreach/unsubscribe.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { startSmtpFake } from '../test/fakes/smtp.ts';
import { figure, type Figure } from './lib.ts';

const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const AUDIENCE = Number(process.env.BENCH_CAMPAIGN_RECIPIENTS ?? 20_000);
const SENDS = Number(process.env.BENCH_CAMPAIGN_SENDS ?? Math.min(AUDIENCE, 2000));
const CONCURRENCY = Number(process.env.BENCH_CAMPAIGN_CONCURRENCY ?? 8);

export default async function run(): Promise<Figure[]> {
  const name = `capto_bench_campaign_${randomBytes(3).toString('hex')}`;
  const root = new pg.Client({ connectionString: ADMIN_URL });
  await root.connect();
  await root.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const engine = await openServerEngine({ databaseUrl: url.toString(), poolSize: 10 });
  const admin = new pg.Pool({ connectionString: url.toString(), max: 2 });
  admin.on('error', () => undefined);
  const smtp = await startSmtpFake({ parse: false, keep: false });
  try {
    await engine.withMaintenanceClient((c) => migrate(c));
    const db = createDatabase(engine.pool);
    const master = parseMasterKey(randomBytes(32).toString('base64'));
    const vault = createVault(master);
    const userId = randomUUID();
    const businessId = randomUUID();
    const seed = async (listName: string, n: number) => {
      const listId = randomUUID();
      await admin.query(`BEGIN; SET LOCAL ROLE capto_owner;
        INSERT INTO app.lists (id, business_id, name) VALUES ('${listId}', '${businessId}', '${listName}');
        INSERT INTO app.contacts (business_id, first_name, last_name, email)
          SELECT '${businessId}', 'F' || g, 'L' || g, '${listName}-' || g || '@example.test' FROM generate_series(1, ${n}) g;
        INSERT INTO app.list_members (business_id, list_id, contact_id)
          SELECT '${businessId}', '${listId}', id FROM app.contacts WHERE business_id = '${businessId}' AND email LIKE '${listName}-%';
        COMMIT; ANALYZE;`);
      return listId;
    };
    await admin.query(`BEGIN; SET LOCAL ROLE capto_owner;
      INSERT INTO auth.users (id, email) VALUES ('${userId}', 'bench-owner@bench.test');
      INSERT INTO app.businesses (id, name, created_by, postal_address) VALUES ('${businessId}', 'Bench Lending', '${userId}', '1 Bench St');
      INSERT INTO app.memberships (business_id, user_id, role) VALUES ('${businessId}', '${userId}', 'owner') ON CONFLICT DO NOTHING;
      COMMIT;`);
    const bigList = await seed('aud', AUDIENCE);
    const sendList = SENDS === AUDIENCE ? bigList : await seed('snd', SENDS);
    await addEmailSender(
      { db, vault, smtpPolicy: { allowPrivateHosts: true }, verify: async () => undefined },
      { userId },
      businessId,
      {
        kind: 'smtp',
        host: '127.0.0.1',
        port: smtp.port,
        security: 'none',
        username: smtp.username,
        password: smtp.password,
        from_email: 'news@bench.test',
        from_name: 'Bench',
        rate_per_second: 1000,
      },
    );
    const templateId = randomUUID();
    await admin.query(
      `BEGIN; SET LOCAL ROLE capto_owner;
       INSERT INTO app.message_templates (id, business_id, name, channel, subject, body, created_by)
       VALUES ($1, $2, 'Bench', 'email', 'Hi {{ contact.first_name }}', 'Hello **{{ contact.first_name }}**, rates dropped.', $3);
       COMMIT;`
        .replace(/\$1/, `'${templateId}'`)
        .replace(/\$2/, `'${businessId}'`)
        .replace(/\$3/, `'${userId}'`),
    );
    const as = <T>(fn: Parameters<typeof db.asUser<T>>[1]) => db.asUser({ sub: userId }, fn);

    // 1. Audience build: the real start vs a bare INSERT … SELECT of the same members.
    const audCampaign = await as((tx) =>
      createCampaign(tx, businessId, userId, {
        name: 'aud',
        channel: 'email',
        list_id: bigList,
        template_id: templateId,
      }),
    );
    const one = await admin.connect();
    await one.query('CREATE TEMP TABLE bench_copy (LIKE app.list_members)');
    const b0 = process.hrtime.bigint();
    await one.query('INSERT INTO bench_copy SELECT * FROM app.list_members WHERE business_id = $1 AND list_id = $2', [
      businessId,
      bigList,
    ]);
    one.release();
    const baselineBuild = Number(process.hrtime.bigint() - b0) / 1e9;
    // Pause the dispatcher's view of it: the audience campaign is started, then cancelled unsent.
    const a0 = process.hrtime.bigint();
    await as((tx) => startCampaign(tx, businessId, userId, audCampaign.id, true));
    const build = Number(process.hrtime.bigint() - a0) / 1e9;
    await admin.query(`UPDATE app.campaigns SET status = 'cancelled' WHERE id = $1`, [audCampaign.id]);
    await admin.query(
      `UPDATE app.outbox SET state = 'failed', error_code = 'campaign_cancelled' WHERE campaign_id = $1 AND state = 'queued'`,
      [audCampaign.id],
    );
    await admin.query(`VACUUM ANALYZE app.outbox`);

    // 2. Send throughput: dispatcher with throttling off into the SMTP sink.
    const dispatcher = createCampaignDispatcher({
      db,
      vault,
      email: createEmailDelivery({
        db,
        vault,
        googleApiBase: 'http://127.0.0.1:9',
        smtpPolicy: { allowPrivateHosts: true },
        messageIdDomain: 'bench.test',
      }),
      twilio: createTwilioClient('http://127.0.0.1:9'),
      tokens: createUnsubscribeTokens(master),
      logger: createLogger({ logLevel: 'silent' }),
      publicUrl: 'https://capto.bench.test',
      throttle: false,
      smsWindow: null,
      pollMs: 50,
      leaseSeconds: 600,
      concurrency: CONCURRENCY,
    });
    const sendCampaign = await as((tx) =>
      createCampaign(tx, businessId, userId, {
        name: 'send',
        channel: 'email',
        list_id: sendList,
        template_id: templateId,
      }),
    );
    const before = smtp.received.length;
    const s0 = process.hrtime.bigint();
    await as((tx) => startCampaign(tx, businessId, userId, sendCampaign.id, true));
    dispatcher.start();
    for (;;) {
      const c = await as((tx) => getCampaign(tx, businessId, sendCampaign.id));
      if (c.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const sendSeconds = Number(process.hrtime.bigint() - s0) / 1e9;
    await dispatcher.stop();
    const delivered = smtp.received.length - before;
    if (delivered !== SENDS) throw new Error(`bench: ${delivered} of ${SENDS} messages reached the sink`);

    // Baseline: nodemailer alone, same pool width, same number of messages.
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: smtp.port,
      ignoreTLS: true,
      auth: { user: smtp.username, pass: smtp.password },
      pool: true,
      maxConnections: 4,
      maxMessages: Infinity,
    });
    const n0 = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < SENDS) {
          const i = next++;
          await transport.sendMail({
            from: 'Bench <news@bench.test>',
            to: `snd-${i}@example.test`,
            subject: `Hi F${i}`,
            text: `Hello **F${i}**, rates dropped.`,
            html: `<p>Hello <strong>F${i}</strong>, rates dropped.</p>`,
          });
        }
      }),
    );
    const rawSeconds = Number(process.hrtime.bigint() - n0) / 1e9;
    transport.close();

    const notes = `${AUDIENCE.toLocaleString('en-US')}-member list; ${SENDS.toLocaleString('en-US')} sends, ${CONCURRENCY} workers, throttling off`;
    return [
      figure({
        name: `campaign audience build (judge + insert recipients), ${AUDIENCE / 1000}k members`,
        value: build,
        baseline: baselineBuild,
        unit: 's',
        goal: `<= ${+((30 * AUDIENCE) / 100_000).toFixed(1)} s`,
        engine: 'server',
        notes,
      }),
      figure({
        name: 'campaign recipients/s, Send → SMTP sink (throttle off)',
        value: SENDS / sendSeconds,
        baseline: SENDS / rawSeconds,
        unit: 'recipients/s',
        goal: '>= 100 recipients/s',
        engine: 'server',
        notes,
      }),
    ];
  } finally {
    await smtp.close().catch(() => undefined);
    await engine.close().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await root.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await root.end();
  }
}
