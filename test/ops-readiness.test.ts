// Readiness tells the truth (docs/OPERATIONS.md §1): a node whose master key does not
// open the vault, whose database misses a migration, or whose start-up scan failed
// answers /readyz 503 and says why in its log — and `capto doctor` fails the same
// checks. Positive controls: the same database with the right key is ready and green.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config/index.ts';
import { asOwner } from '../src/db/engine.ts';
import { startCapto, type RunningCapto } from '../src/main.ts';
import { createLogger } from '../src/observability/logger.ts';
import { runDoctor } from '../src/ops/doctor.ts';
import { databaseFactsForDoctor } from '../src/ops/doctor-vault.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { sharedFakeHibp } from './fakes/hibp.ts';
import { signUp } from './support/auth.ts';
import { createBlankDatabase } from './support/engine.ts';
import { newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { freePort, type TestServer } from './support/server.ts';

const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'capto-ready-'));
let dbEnv: Record<string, string>;
let drop: () => Promise<void>;
let running: RunningCapto | undefined;
const lines: string[] = [];

async function config(masterKey: string, extra: Record<string, string> = {}): Promise<Config> {
  return loadConfig({
    CAPTO_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    LOG_LEVEL: 'info',
    CAPTO_DB_POOL_SIZE: '3',
    HIBP_RANGE_URL: (await sharedFakeHibp()).url,
    CAPTO_AUTH_RATE_IP: '100000',
    CAPTO_AUTH_RATE_ACCOUNT: '100000',
    CAPTO_DATA_DIR: scratch,
    CAPTO_MASTER_KEY: masterKey,
    ...dbEnv,
    ...extra,
  });
}
async function start(masterKey: string, extra: Record<string, string> = {}): Promise<RunningCapto> {
  await running?.close();
  lines.length = 0;
  const c = await config(masterKey, extra);
  running = await startCapto(c, {
    logger: createLogger(c, { write: (l: string) => void lines.push(l) }),
    readinessRecheckMs: 0,
  });
  return Object.assign(running, { url: `https://127.0.0.1:${running.port}` });
}
async function stop() {
  await running?.close();
  running = undefined;
}
const readyz = (n: RunningCapto) => request<{ error?: { code: string; checks: string[] } }>(`${n.url}/readyz`);

beforeAll(async () => {
  const blank = await createBlankDatabase();
  dbEnv = blank.env;
  drop = blank.drop;
}, 120_000);
afterAll(async () => {
  await stop();
  await drop?.();
  rmSync(scratch, { recursive: true, force: true });
});

describe('/readyz and capto doctor prove the node can serve', () => {
  it('another master key: /readyz 503 (vault), the log says why, doctor fails; the right key is ready', async () => {
    let n = await start(K1);
    const user = await signUp(n as TestServer, { verified: true }); // seals the first JWT signing key
    const biz = await newBusiness(n.engine, user.userId);
    await n.db.asService('test', (tx) =>
      createVault(parseMasterKey(K1)).putSecret(tx, { businessId: biz.id, kind: 'twilio.auth_token', plaintext: 't' }),
    );
    expect((await readyz(n)).status).toBe(200);

    n = await start(K2); // the operator's mistake: a different key on this node
    const r = await readyz(n);
    expect(r.status).toBe(503);
    expect(r.json.error).toMatchObject({ code: 'service_unavailable', checks: ['vault'] });
    expect(r.text).not.toContain(K2);
    const log = lines.join('\n');
    expect(log).toMatch(/NOT READY: .*does not open the current JWT signing key/);
    expect(log).toMatch(/does not open the data key of business/);
    expect(log).not.toContain(K2);
    await stop();
    const wrong = await runDoctor(await config(K2), { database: databaseFactsForDoctor });
    expect(wrong.checks.find((c) => c.id === 'vault')).toMatchObject({ ok: false, level: 'required' });
    const right = await runDoctor(await config(K1), { database: databaseFactsForDoctor });
    expect(right.checks.find((c) => c.id === 'vault')).toMatchObject({ ok: true });
    expect(right.checks.find((c) => c.id === 'migrations')).toMatchObject({ ok: true });

    n = await start(K1); // positive control: the same database, the right key
    expect((await readyz(n)).status).toBe(200);
    expect(lines.join('\n')).toMatch(/"ready: the master key opens the vault/);
  }, 120_000);

  it('a migration missing from the database: /readyz 503 (migrations), doctor fails', async () => {
    const n = running ?? (await start(K1));
    const removed = await asOwner(n.engine, (c) =>
      c.query<{ version: string; name: string; checksum: string; applied_at: Date }>(
        `DELETE FROM capto_meta.schema_migrations
          WHERE version = (SELECT max(version) FROM capto_meta.schema_migrations) RETURNING *`,
      ),
    );
    const row = removed.rows[0]!;
    try {
      const r = await readyz(n);
      expect(r.status).toBe(503);
      expect(r.json.error?.checks).toEqual(['migrations']);
      expect(lines.join('\n')).toContain(`migration ${row.version}_${row.name} is not applied`);
    } finally {
      await asOwner(n.engine, (c) =>
        c.query(
          'INSERT INTO capto_meta.schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)',
          [row.version, row.name, row.checksum, row.applied_at],
        ),
      );
    }
    expect((await readyz(n)).status).toBe(200); // positive control: restored, ready again
  }, 60_000);

  it('a failed start-up scan (a table without row-level security): /readyz 503 (scan) until fixed', async () => {
    let n = running ?? (await start(K1));
    await asOwner(n.engine, (c) => c.query('CREATE TABLE app.readiness_no_rls (id int PRIMARY KEY)'));
    try {
      n = await start(K1);
      const r = await readyz(n);
      expect(r.status).toBe(503);
      expect(r.json.error?.checks).toEqual(['scan']);
      expect(lines.join('\n')).toMatch(/NOT READY: the database security scan at start-up found \d+ error/);
    } finally {
      await asOwner(n.engine, (c) => c.query('DROP TABLE app.readiness_no_rls'));
    }
    n = await start(K1);
    expect((await readyz(n)).status).toBe(200);
  }, 120_000);
});
