// `capto audit verify` and `capto keys rotate`: maintenance commands of the
// integration audit log and the vault. They call the same code as the server.
import { verifyAuditChains } from '../audit/verify.ts';
import type { Command } from '../cli/command.ts';
import { openEngine } from '../db/index.ts';
import { asOwner } from '../db/engine.ts';
import { createDatabase } from '../db/request.ts';
import { loadMasterKey } from '../vault/master-key.ts';
import { formatRotation, rotateMasterKey } from '../vault/rotate.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const auditVerify: Command = {
  name: 'audit verify',
  summary: 'recompute the integration audit hash chains and name the first broken link',
  help: `capto audit verify [--business <id>]

Recomputes the SHA-256 chain of audit.integration_events for every business (or one)
and prints the first broken link of each broken chain: the row whose content no longer
matches its hash (edited) or whose prev_hash does not match the row before it (a row
was removed or inserted). Prints the head hash of each chain: keep it elsewhere to
detect a truncated tail later. Exit code 0 when intact, 1 when broken.`,
  options: { business: { type: 'string' } },
  async run(values, config) {
    const business = values.business;
    if (business !== undefined && (typeof business !== 'string' || !UUID.test(business))) {
      console.error('capto audit verify: --business must be a business id (uuid)');
      return 2;
    }
    const engine = await openEngine(config, 'capto audit verify');
    try {
      const report = await asOwner(engine, (c) => verifyAuditChains(c, business?.toLowerCase()));
      for (const b of report.broken) {
        console.log(
          `BROKEN business ${b.businessId}: first broken link is row seq=${b.seq} id=${b.id} (${b.reason === 'hash_mismatch' ? 'its content does not match its hash' : 'its prev_hash does not match the previous row'})`,
        );
      }
      for (const [bid, head] of Object.entries(report.heads)) console.log(`head ${bid} ${head}`);
      console.log(
        `${report.rows} rows in ${report.businesses} chains: ${report.broken.length === 0 ? 'all intact' : `${report.broken.length} broken`}`,
      );
      return report.broken.length === 0 ? 0 : 1;
    } finally {
      await engine.close();
    }
  },
};

const keysRotate: Command = {
  name: 'keys rotate',
  summary: 're-wrap everything sealed by the master key under its current version; refuse to finish otherwise',
  help: `capto keys rotate

Re-wraps EVERY item sealed by the master key — per-business data keys, JWT signing
keys, and any kind added later (src/vault/sealed-kinds.ts) — with the CURRENT master
key, i.e. the first entry of CAPTO_MASTER_KEY ("<version>:<base64>,<old version>:<base64>").
Tenant secrets are not re-encrypted (their data keys do not change). Each item is
re-wrapped in its own short transaction, and nodes that know both versions keep
working throughout: no downtime.

Prints what it re-wrapped per kind, then counts what is still sealed under an old
version. Exit 0 and "complete" only when nothing is: then, and only then, the old
entry may be removed from CAPTO_MASTER_KEY (docs/OPERATIONS.md §4). Exit 1 otherwise.`,
  options: {},
  async run(_values, config) {
    const master = loadMasterKey(config);
    const engine = await openEngine(config, 'capto keys rotate');
    try {
      const result = await rotateMasterKey(createDatabase(engine.pool), master);
      for (const line of formatRotation(result)) (result.complete ? console.log : console.error)(line);
      return result.complete ? 0 : 1;
    } finally {
      await engine.close();
    }
  },
};

export const integrationCommands: Command[] = [auditVerify, keysRotate];
