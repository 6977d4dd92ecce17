// `capto audit verify`: recompute every business's hash chain and name the first
// broken link. Runs on a maintenance connection (capto_owner reads every row,
// including those of deleted businesses). The hash is recomputed here in Node, not
// by a database function, so a tamperer who can alter rows and functions still
// cannot make the verifier agree with edited history.
import type { MaintenanceClient } from '../db/types.ts';
import { eventHash, OCCURRED_AT_TEXT, type ChainedEvent } from './integration-events.ts';

export interface BrokenLink {
  businessId: string;
  seq: number;
  id: string;
  /** hash_mismatch: the row's content changed; prev_hash_mismatch: a row was removed, inserted or reordered before it. */
  reason: 'hash_mismatch' | 'prev_hash_mismatch';
}

export interface ChainReport {
  businesses: number;
  rows: number;
  /** The first broken link of each business whose chain is broken (empty: all intact). */
  broken: BrokenLink[];
  /** The latest hash per business: record it elsewhere to detect truncation of the tail. */
  heads: Record<string, string>;
}

type Row = ChainedEvent & { seq: string; id: string; hash: string };

export async function verifyAuditChains(client: MaintenanceClient, businessId?: string): Promise<ChainReport> {
  const ids = businessId
    ? [businessId]
    : (
        await client.query<{ business_id: string }>(
          'SELECT DISTINCT business_id FROM audit.integration_events ORDER BY business_id',
        )
      ).rows.map((r) => r.business_id);
  const report: ChainReport = { businesses: 0, rows: 0, broken: [], heads: {} };
  for (const bid of ids) {
    const r = await client.query<Row>(
      `SELECT seq::text AS seq, id, prev_hash, hash, business_id, ${OCCURRED_AT_TEXT} AS occurred_at, actor_user_id,
              actor_email, action, subject_id, details, ip, user_agent
         FROM audit.integration_events e WHERE e.business_id = $1 ORDER BY e.seq`,
      [bid],
    );
    if (r.rows.length === 0) continue;
    report.businesses++;
    report.rows += r.rows.length;
    let previous: string | null = null;
    for (const row of r.rows) {
      const link = { businessId: bid, seq: Number(row.seq), id: row.id };
      if (row.prev_hash !== previous) {
        report.broken.push({ ...link, reason: 'prev_hash_mismatch' });
        break;
      }
      if (eventHash(row) !== row.hash) {
        report.broken.push({ ...link, reason: 'hash_mismatch' });
        break;
      }
      previous = row.hash;
    }
    report.heads[bid] = r.rows[r.rows.length - 1]!.hash;
  }
  return report;
}
