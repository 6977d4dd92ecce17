// `capto audit verify` names the first broken link of a tampered chain (and exits 1),
// and `capto keys rotate` re-wraps every data key — both through the real CLI command
// objects against the engine under test.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { recordIntegrationChange } from '../src/audit/integration-events.ts';
import { loadConfig } from '../src/config/index.ts';
import { asOwner } from '../src/db/engine.ts';
import { integrationCommands } from '../src/integrations/cli-commands.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { createTestDatabase, type TestDatabase } from './support/engine.ts';
import { newBusiness, newUser } from './support/factories.ts';

const oldKey = randomBytes(32).toString('base64');
const newKey = randomBytes(32).toString('base64');
let t: TestDatabase;
let closed = false;
let intact: string;
let broken: string;
let tamperedId: string;
let secret: { bid: string; id: string; plaintext: string };

beforeAll(async () => {
  t = await createTestDatabase();
  const user = await newUser(t.engine);
  intact = (await newBusiness(t.engine, user.id)).id;
  broken = (await newBusiness(t.engine, user.id)).id;
  for (const bid of [intact, broken]) {
    for (let i = 0; i < 3; i++) {
      await t.db.asService('test.audit', (tx) =>
        recordIntegrationChange(tx, {
          businessId: bid,
          actorUserId: user.id,
          action: 'twilio.config.added',
          subjectId: randomUUID(),
          details: { friendly_name: `n${i}` },
        }),
      );
    }
  }
  const rows = await asOwner(t.engine, (c) =>
    c.query<{ id: string }>('SELECT id FROM audit.integration_events WHERE business_id = $1 ORDER BY seq', [broken]),
  );
  tamperedId = rows.rows[1]!.id;
  await asOwner(t.engine, async (c) => {
    await c.query('ALTER TABLE audit.integration_events DISABLE TRIGGER integration_events_no_update_delete');
    await c.query(`UPDATE audit.integration_events SET actor_email = 'someone-else@example.test' WHERE id = $1`, [
      tamperedId,
    ]);
    await c.query('ALTER TABLE audit.integration_events ENABLE ALWAYS TRIGGER integration_events_no_update_delete');
  });
  const vault = createVault(parseMasterKey(`1:${oldKey}`));
  const plaintext = randomBytes(16).toString('hex');
  secret = {
    bid: intact,
    plaintext,
    id: await t.db.asService('test.vault', (tx) =>
      vault.putSecret(tx, { businessId: intact, kind: 'twilio.auth_token', plaintext }),
    ),
  };
  // The CLI opens the database itself: the embedded engine allows one opener at a time.
  await t.engine.close();
  closed = true;
});
afterAll(async () => {
  if (!closed) await t?.engine.close();
  await t?.close().catch(() => undefined);
});

async function run(name: string, values: Record<string, string>, env: Record<string, string> = {}) {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    const command = integrationCommands.find((c) => c.name === name)!;
    const code = await command.run(values, loadConfig({ CAPTO_ENV: 'test', ...t.env, ...env }));
    return { code, output: lines.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

describe('capto audit verify', () => {
  it('names the first broken link and exits 1; an intact business verifies', async () => {
    const all = await run('audit verify', {});
    expect(all.code).toBe(1);
    expect(all.output).toContain(`BROKEN business ${broken}`);
    expect(all.output).toContain(`id=${tamperedId}`);
    expect(all.output).toContain('its content does not match its hash');
    expect(all.output).not.toContain(`BROKEN business ${intact}`);
    const one = await run('audit verify', { business: intact });
    expect(one.code).toBe(0);
    expect(one.output).toContain('all intact');
    expect((await run('audit verify', { business: 'nope' })).code).toBe(2);
  });
});

describe('capto keys rotate', () => {
  it('re-wraps every data key under the new master key; the secret stays readable with the new key alone', async () => {
    const out = await run('keys rotate', {}, { CAPTO_MASTER_KEY: `2:${newKey},1:${oldKey}` });
    expect(out.code).toBe(0);
    expect(out.output).toMatch(/per-business data keys \(vault\.data_keys\): re-wrapped 1,/);
    expect(out.output).toMatch(/complete: everything sealed by the master key is under version 2/);
    const { openEngine } = await import('../src/db/index.ts');
    const { createDatabase } = await import('../src/db/request.ts');
    const engine = await openEngine(loadConfig({ CAPTO_ENV: 'test', ...t.env }), 'test');
    try {
      const vault = createVault(parseMasterKey(`2:${newKey}`));
      const read = await createDatabase(engine.pool).asService('test.vault', (tx) =>
        vault.readSecret(tx, { businessId: secret.bid, id: secret.id, kind: 'twilio.auth_token' }),
      );
      expect(read).toBe(secret.plaintext);
    } finally {
      await engine.close();
    }
  });
});
