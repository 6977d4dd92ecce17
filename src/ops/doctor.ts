// `capto doctor` (docs/ARCHITECTURE.md §19): what a production deployment still lacks. The
// configuration part is config/productionProblems — the very list `CAPTO_ENV=production`
// start refuses on — evaluated as if in production; the rest needs the live database
// or Redis and is checked here.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { connectRedis } from '../shared/redis.ts';
import { productionProblems, type Config } from '../config/index.ts';
import { parseMasterKey } from '../vault/master-key.ts';
import { withAdmin } from './backup-server.ts';
import { checkCertificate } from './doctor-tls.ts';

export type CheckLevel = 'required' | 'recommended';

export interface DoctorCheck {
  id: string;
  level: CheckLevel;
  ok: boolean;
  detail: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
}

export interface DoctorOptions {
  nodes?: number;
  /** The scanner's verdict; injected so doctor works before/without the scan module. */
  scan?: (config: Config) => Promise<{ errors: number; summary: string }>;
  /** The vault and migration proofs of the live database (src/ops/doctor-vault.ts). */
  database?: (config: Config) => Promise<{ vault: string[]; migrations: string[] }>;
}

const BACKUP_MAX_AGE_HOURS = 26; // a daily schedule plus slack

export async function runDoctor(config: Config, options: DoctorOptions = {}): Promise<DoctorReport> {
  const nodes = options.nodes ?? 1;
  const checks: DoctorCheck[] = [];
  const add = (id: string, level: CheckLevel, ok: boolean, detail: string) => checks.push({ id, level, ok, detail });

  add(
    'env',
    'required',
    config.isProduction,
    config.isProduction ? 'CAPTO_ENV=production' : `CAPTO_ENV is ${config.env}: set CAPTO_ENV=production`,
  );
  const problems = productionProblems({ ...config, isProduction: true });
  for (const p of problems) add('config', 'required', false, p);
  if (problems.length === 0)
    add('config', 'required', true, 'master key, TLS, https public URL and SMTP are configured');
  if (config.masterKey) {
    try {
      add(
        'master_key',
        'required',
        true,
        `CAPTO_MASTER_KEY parses (current version ${parseMasterKey(config.masterKey).current.version})`,
      );
    } catch (e) {
      add('master_key', 'required', false, (e as Error).message);
    }
  }
  if (config.tls.enabled && config.tls.certFile && config.tls.keyFile) {
    const c = checkCertificate(config.tls.certFile, config.tls.keyFile);
    add('tls.certificate', 'required', c.ok, c.detail);
  }

  if (nodes > 1) {
    if (!config.databaseUrl)
      add(
        'nodes.database',
        'required',
        false,
        `--nodes ${nodes}: the embedded database serves one process; set DATABASE_URL to a shared PostgreSQL`,
      );
    add(
      'nodes.redis',
      'required',
      Boolean(config.redisUrl),
      config.redisUrl ? 'REDIS_URL is set' : `--nodes ${nodes}: set REDIS_URL so rate limits are shared between nodes`,
    );
  }
  if (config.redisUrl) {
    const ping = await pingRedis(config.redisUrl);
    add(
      'redis',
      nodes > 1 ? 'required' : 'recommended',
      ping === undefined,
      ping === undefined ? 'Redis answers PING' : `Redis does not answer: ${ping}`,
    );
  }

  if (config.databaseUrl) {
    const role = await loginRole(config);
    add('database.login_role', 'required', role.ok, role.detail);
  } else {
    add(
      'database.engine',
      'recommended',
      false,
      'the embedded database suits one machine; production with several nodes or large data should set DATABASE_URL',
    );
  }

  if (options.database) {
    try {
      const facts = await options.database(config);
      add(
        'migrations',
        'required',
        facts.migrations.length === 0,
        facts.migrations.length === 0
          ? 'every migration is applied'
          : `not applied: ${facts.migrations.join(', ')} — run "capto migrate"`,
      );
      add(
        'vault',
        'required',
        facts.vault.length === 0,
        facts.vault.length === 0
          ? 'CAPTO_MASTER_KEY opens the vault (current JWT signing key and a data key)'
          : facts.vault.join('; '),
      );
    } catch (e) {
      add('vault', 'required', false, `the vault could not be checked: ${(e as Error).message}`);
    }
  }

  if (options.scan) {
    try {
      const s = await options.scan(config);
      add(
        'scan',
        'required',
        s.errors === 0,
        s.errors === 0
          ? `scan clean: ${s.summary}`
          : `scan found ${s.errors} error(s): ${s.summary} — run "capto scan"`,
      );
    } catch (e) {
      add('scan', 'required', false, `the scan could not run: ${(e as Error).message}`);
    }
  } else {
    add(
      'scan',
      'required',
      false,
      'the database scan is not available in this build; run "capto scan" before going live',
    );
  }

  add(...backupCheck(config));
  add(
    'metrics',
    'recommended',
    Boolean(config.metricsToken),
    config.metricsToken
      ? 'CAPTO_METRICS_TOKEN is set'
      : '/metrics answers loopback only: set CAPTO_METRICS_TOKEN for a remote Prometheus',
  );

  return { ok: checks.every((c) => c.ok || c.level !== 'required'), checks };
}

function backupCheck(config: Config): [string, CheckLevel, boolean, string] {
  if (!config.backupDir)
    return ['backups', 'recommended', false, 'set CAPTO_BACKUP_DIR and schedule "capto backup" (docs/OPERATIONS.md)'];
  if (!existsSync(config.backupDir))
    return [
      'backups',
      'recommended',
      false,
      `CAPTO_BACKUP_DIR ${config.backupDir} does not exist yet: run "capto backup"`,
    ];
  const newest = readdirSync(config.backupDir)
    .filter((f) => f.endsWith('.captobk'))
    .map((f) => statSync(path.join(config.backupDir!, f)).mtimeMs)
    .sort((a, b) => b - a)[0];
  if (newest === undefined)
    return ['backups', 'recommended', false, `no backup in ${config.backupDir} yet: run "capto backup"`];
  const hours = (Date.now() - newest) / 3_600_000;
  return [
    'backups',
    'recommended',
    hours <= BACKUP_MAX_AGE_HOURS,
    hours <= BACKUP_MAX_AGE_HOURS
      ? `latest backup ${hours.toFixed(1)} h old`
      : `latest backup is ${hours.toFixed(0)} h old: is the schedule running?`,
  ];
}

async function pingRedis(url: string): Promise<string | undefined> {
  const redis = connectRedis(url, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/\/\/[^@]*@/, '//***@');
  } finally {
    redis.disconnect();
  }
}

/** The role the app pool really logs in as (server-engine swaps a superuser URL for capto_app). */
async function loginRole(config: Config): Promise<{ ok: boolean; detail: string }> {
  try {
    return await withAdmin(config.databaseUrl!, async (c) => {
      const r = await c.query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean }>(
        'SELECT rolname, rolsuper, rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user',
      );
      const role = r.rows[0];
      if (!role) return { ok: false, detail: 'cannot read the login role' };
      if (role.rolsuper || role.rolbypassrls) {
        return {
          ok: false,
          detail: `DATABASE_URL logs in as ${role.rolname}, which is ${role.rolsuper ? 'a superuser' : 'BYPASSRLS'}: point it at capto_app and put the admin login in CAPTO_MIGRATION_URL`,
        };
      }
      return { ok: true, detail: `DATABASE_URL logs in as ${role.rolname} (no superuser, no BYPASSRLS)` };
    });
  } catch (e) {
    return {
      ok: false,
      detail: `cannot connect with DATABASE_URL: ${(e as Error).message.replace(/\/\/[^@]*@/, '//***@')}`,
    };
  }
}

export function formatDoctorReport(report: DoctorReport): string {
  const lines = report.checks.map(
    (c) =>
      `${c.ok ? '  ok  ' : c.level === 'required' ? ' FAIL ' : ' warn '} ${c.level.padEnd(11)} ${c.id.padEnd(20)} ${c.detail}`,
  );
  const failing = report.checks.filter((c) => !c.ok && c.level === 'required').length;
  lines.push(
    '',
    report.ok
      ? 'ready for production (required checks pass)'
      : `${failing} required item(s) missing: not ready for production`,
  );
  return lines.join('\n');
}
