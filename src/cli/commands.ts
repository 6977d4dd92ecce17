// The CLI's commands (the Command shape is in command.ts, so the modules that
// contribute commands never import this list).
import pg from 'pg';
import type { Command } from './command.ts';
import { openEngine } from '../db/index.ts';
import { migrate } from '../db/migrator.ts';
import { bootstrapWithRetry } from '../db/server-engine.ts';
import { startCapto } from '../main.ts';
import { rotateJwtCommand } from '../auth/cli-command.ts';
import { integrationCommands } from '../integrations/cli-commands.ts';
import { scanCommand } from '../scan/command.ts';
import { demoPurgeCommand } from '../demo/command.ts';
import { opsCommands } from '../ops/cli-commands.ts';
import { jobsCommands } from '../jobs/cli-commands.ts';

const start: Command = {
  name: 'start',
  summary: 'apply migrations and serve HTTPS (embedded database unless DATABASE_URL is set)',
  help: `capto start — apply migrations, then serve the app and API.

Uses the embedded database in CAPTO_DATA_DIR unless DATABASE_URL is set, and a
self-signed certificate unless CAPTO_TLS_CERT/CAPTO_TLS_KEY are set.
With CAPTO_ENV=production it refuses to start without CAPTO_MASTER_KEY and a real
certificate (or CAPTO_TLS=off behind a proxy).`,
  options: {},
  async run(_values, config) {
    const running = await startCapto(config);
    console.log(`Capto is running at ${running.url}  (database: ${running.engine.kind})`);
    const stop = (signal: string) => {
      running.app.log.info({ signal }, 'shutting down: draining in-flight requests');
      running.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    return -1;
  },
};

const migrateCmd: Command = {
  name: 'migrate',
  summary: 'apply pending migrations (a no-op when up to date)',
  help: `capto migrate — apply pending migrations in order, each in one transaction.

Server mode uses CAPTO_MIGRATION_URL (or DATABASE_URL); the embedded engine uses
CAPTO_DATA_DIR (through the running server's admin channel when one holds it; the
server applied its migrations when it started). An applied migration whose file
changed stops the run.`,
  options: {},
  async run(_values, config) {
    const engine = await openEngine(config, 'capto migrate');
    try {
      const result = await engine.withMaintenanceClient((c) => migrate(c));
      console.log(
        result.applied.length
          ? `applied: ${result.applied.join(', ')}`
          : `up to date (${result.skipped} migrations already applied)`,
      );
      return 0;
    } finally {
      await engine.close();
    }
  },
};

const dbSetup: Command = {
  name: 'db setup',
  summary: 'server mode: create the roles and the database (needs an admin URL)',
  help: `capto db setup --admin-url postgres://postgres@host:5432/postgres [--database capto] [--app-password-file FILE]

Creates the roles capto_owner, capto_authenticated, capto_anon, capto_service and the
login role capto_app (NOSUPERUSER NOBYPASSRLS NOINHERIT), the database (owned by the
admin, with CREATE granted to capto_owner), and applies the migrations.
Then run the server with DATABASE_URL=postgres://capto_app@host:5432/<database>
and CAPTO_MIGRATION_URL set to the admin URL of that database.`,
  options: {
    'admin-url': { type: 'string' },
    database: { type: 'string' },
    'app-password-file': { type: 'string' },
  },
  async run(values) {
    const adminUrl = values['admin-url'];
    if (typeof adminUrl !== 'string') {
      console.error('capto db setup: --admin-url is required');
      return 2;
    }
    const database = typeof values.database === 'string' ? values.database : 'capto';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) {
      console.error('capto db setup: --database must be a plain lower-case identifier');
      return 2;
    }
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      const exists = await admin.query('SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1', [database]);
      if (!exists.rowCount) await admin.query(`CREATE DATABASE ${database}`);
    } finally {
      await admin.end();
    }
    const target = new URL(adminUrl);
    target.pathname = `/${database}`;
    const client = new pg.Client({ connectionString: target.toString() });
    await client.connect();
    try {
      await bootstrapWithRetry(client);
      const passwordFile = values['app-password-file'];
      if (typeof passwordFile === 'string') {
        const { readFileSync } = await import('node:fs');
        const password = readFileSync(passwordFile, 'utf8').trim();
        await client.query(`ALTER ROLE capto_app PASSWORD ${pg.escapeLiteral(password)}`);
      }
      const result = await migrate(client);
      console.log(
        `database ${database} ready; migrations applied: ${result.applied.length}, already applied: ${result.skipped}`,
      );
      const app = new URL(target.toString());
      app.username = 'capto_app';
      app.password = '';
      console.log(`DATABASE_URL=${app.toString()}`);
      return 0;
    } finally {
      await client.end();
    }
  },
};

export const commands: Command[] = [
  start,
  migrateCmd,
  dbSetup,
  scanCommand,
  demoPurgeCommand,
  ...opsCommands,
  ...jobsCommands,
  ...integrationCommands,
  rotateJwtCommand,
];
