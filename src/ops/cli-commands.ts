// `capto backup`, `capto restore` and `capto doctor`: thin wrappers that print what
// the ops services did. Messages never contain a key, passphrase or URL password.
import type { Command } from '../cli/command.ts';
import { BackupError } from './backup-format.ts';
import { createBackup, restoreBackup } from './backup.ts';
import { formatDoctorReport, runDoctor } from './doctor.ts';
import { scanForDoctor } from './doctor-scan.ts';
import { databaseFactsForDoctor } from './doctor-vault.ts';

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

/** BackupErrors are the operator's to fix: print the message, exit 1, no stack. */
async function reportBackupErrors(name: string, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof BackupError) {
      console.error(`capto ${name}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

const backup: Command = {
  name: 'backup',
  summary: 'write an encrypted, compressed snapshot of the whole database',
  help: `capto backup [--out FILE] [--passphrase-file FILE] [--logical]

Writes a consistent snapshot of the database, gzip-compressed and encrypted with
AES-256-GCM (format CAPTOBK1). Without --out it goes to CAPTO_BACKUP_DIR.
The key is derived from CAPTO_MASTER_KEY (HKDF-SHA256), or from the passphrase in
--passphrase-file (scrypt); keep that key apart from the backup.
Embedded engine: online while the server runs — it copies its data files while no
statement runs (requests wait only for that copy) and the copy is streamed through
the server's admin channel; offline, under the data dir lock, when it is stopped.
Either way memory stays flat whatever the data size.
Server engine: uses pg_dump through CAPTO_MIGRATION_URL; the app keeps serving.
Without pg_dump (or with --logical) it exports every row in one REPEATABLE READ
snapshot instead; such a backup restores into an empty database only.`,
  options: { out: { type: 'string' }, 'passphrase-file': { type: 'string' }, logical: { type: 'boolean' } },
  run: (values, config) =>
    reportBackupErrors('backup', async () => {
      const r = await createBackup(config, {
        out: str(values.out),
        passphraseFile: str(values['passphrase-file']),
        logical: values.logical === true,
      });
      console.log(
        `backup written: ${r.file} (${r.bytes} bytes, ${r.engine} engine, key: ${r.header.kdf === 'passphrase' ? 'passphrase' : `master key v${r.header.keyVersion}`})` +
          (r.online ? `; online: the running server paused ${Math.round(r.online.pausedMs)} ms for the snapshot` : ''),
      );
      return 0;
    }),
};

const restore: Command = {
  name: 'restore',
  summary: 'restore a backup into an empty database (--force to replace data)',
  help: `capto restore --in FILE [--passphrase-file FILE] [--force]

Checks the whole file (key and integrity) before touching anything, then restores
it into the configured database. A database that already holds rows is refused
unless --force, which replaces ALL of its contents. A wrong key or a modified
file restores nothing. Stop every app node before restoring (on the embedded engine
restore refuses while a server holds the data dir).`,
  options: { in: { type: 'string' }, 'passphrase-file': { type: 'string' }, force: { type: 'boolean' } },
  run: (values, config) =>
    reportBackupErrors('restore', async () => {
      const file = str(values.in);
      if (!file) {
        console.error('capto restore: --in FILE is required');
        return 2;
      }
      const r = await restoreBackup(config, {
        in: file,
        passphraseFile: str(values['passphrase-file']),
        force: values.force === true,
      });
      console.log(
        `restored ${file} (taken ${r.header.createdAt.toISOString()}) into the ${r.engine} database${r.replacedTables.length ? ` (replaced ${r.replacedTables.length} non-empty tables)` : ''}`,
      );
      return 0;
    }),
};

const doctor: Command = {
  name: 'doctor',
  summary: 'list what this deployment still lacks for production (exit 1 if required)',
  help: `capto doctor [--nodes N] [--json]

Checks the configuration and the database for what a production deployment needs:
master key (and that it opens the vault: the current JWT signing key and a data key),
every migration applied, TLS, https public URL, SMTP, Redis when N > 1 nodes, a clean
scan, a login role without superuser/BYPASSRLS, backups. Exits 1 when a REQUIRED item is
missing, 0 otherwise (recommended items are printed but do not fail).`,
  options: { nodes: { type: 'string' }, json: { type: 'boolean' } },
  async run(values, config) {
    const nodes = Number(str(values.nodes) ?? '1');
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 1000) {
      console.error('capto doctor: --nodes must be a positive integer');
      return 2;
    }
    const report = await runDoctor(config, { nodes, scan: scanForDoctor, database: databaseFactsForDoctor });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
    return report.ok ? 0 : 1;
  },
};

export const opsCommands: Command[] = [backup, restore, doctor];
