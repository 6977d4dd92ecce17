// `capto keys rotate`: re-wrap every business's data key under the current master key
// version. The data keys themselves do not change, so no secret is re-encrypted and
// every node that knows both master key versions keeps reading while this runs: each
// data key is re-wrapped in its own short transaction (row lock on that key only), so
// there is no downtime and a crash halfway leaves a consistent mix that a re-run
// finishes.
//
// Procedure: set CAPTO_MASTER_KEY="<new version>:<new key>,<old version>:<old key>" on
// every node (restart them one by one), run `capto keys rotate`, then drop the old key.
import type { Database } from '../db/index.ts';
import { seal, VaultError } from './envelope.ts';
import type { MasterKey } from './master-key.ts';
import { dataKeyAad, unwrapDataKey } from './secrets.ts';
import type { Envelope } from './envelope.ts';

export interface RotationResult {
  rewrapped: number;
  masterKeyVersion: number;
  /** Data keys that could not be opened (tampered, or sealed by an unconfigured master version). */
  failed: Array<{ businessId: string; version: number; reason: string }>;
}

export async function rewrapDataKeys(db: Database, master: MasterKey): Promise<RotationResult> {
  const current = master.current.version;
  const result: RotationResult = { rewrapped: 0, masterKeyVersion: current, failed: [] };
  // Keyset over (business_id, version) so a key that fails is reported once, not retried forever.
  let after: [string, number] = ['00000000-0000-0000-0000-000000000000', 0];
  for (;;) {
    const batch = await db.asService('vault.keys_rotate', (tx) =>
      tx.query<{ business_id: string; version: number }>(
        `SELECT business_id, version FROM vault.data_keys
          WHERE master_key_version <> $1 AND (business_id, version) > ($2::uuid, $3::int)
          ORDER BY business_id, version LIMIT 100`,
        [current, after[0], after[1]],
      ),
    );
    if (batch.rows.length === 0) break;
    for (const key of batch.rows) {
      after = [key.business_id, key.version];
      try {
        const done = await db.asService('vault.keys_rotate', async (tx) => {
          const r = await tx.query<{ version: number; wrapped: Envelope; master_key_version: number }>(
            'SELECT version, wrapped, master_key_version FROM vault.data_keys WHERE business_id = $1 AND version = $2 FOR UPDATE',
            [key.business_id, key.version],
          );
          const row = r.rows[0];
          if (!row || row.master_key_version === current) return false; // rotated concurrently
          const dataKey = unwrapDataKey(master, key.business_id, row);
          const wrapped = seal(master.current, dataKey.bytes, dataKeyAad(key.business_id, row.version));
          await tx.query(
            'UPDATE vault.data_keys SET wrapped = $3::jsonb, master_key_version = $4, rewrapped_at = now() WHERE business_id = $1 AND version = $2',
            [key.business_id, key.version, JSON.stringify(wrapped), current],
          );
          return true;
        });
        if (done) result.rewrapped++;
      } catch (e) {
        if (!(e instanceof VaultError)) throw e;
        result.failed.push({ businessId: key.business_id, version: key.version, reason: e.message });
      }
    }
  }
  return result;
}
