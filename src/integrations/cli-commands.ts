// `capto audit verify` and `capto keys rotate`: maintenance commands of the
// integration audit log and the vault. They call the same code as the server.
import { verifyAuditChains } from '../audit/verify.ts';
import type { Command } from '../cli/command.ts';
import { openEngine } from '../db/index.ts';
import { asOwner } from '../db/engine.ts';
import { createDatabase } from '../db/request.ts';
import { loadMasterKey } from '../vault/master-key.ts';
import { rewrapDataKeys } from '../vault/rotate.ts';

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
  summary: 're-wrap every per-business data key under the current master key version',
  help: `capto keys rotate

Re-wraps every data key in vault.data_keys with the CURRENT master key, i.e. the first
entry of CAPTO_MASTER_KEY ("<version>:<base64>,<old version>:<base64>"). Secrets are
not re-encrypted (their data keys do not change), each key is re-wrapped in its own
short transaction, and nodes that know both versions keep working throughout: no
downtime. Afterwards the old entry can be removed from CAPTO_MASTER_KEY.`,
  options: {},
  async run(_values, config) {
    const master = loadMasterKey(config);
    const engine = await openEngine(config, 'capto keys rotate');
    try {
      const result = await rewrapDataKeys(createDatabase(engine.pool), master);
      console.log(`re-wrapped ${result.rewrapped} data keys under master key version ${result.masterKeyVersion}`);
      for (const f of result.failed)
        console.error(`could not re-wrap data key ${f.version} of business ${f.businessId}: ${f.reason}`);
      return result.failed.length === 0 ? 0 : 1;
    } finally {
      await engine.close();
    }
  },
};

export const integrationCommands: Command[] = [auditVerify, keysRotate];
