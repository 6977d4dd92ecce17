// The point of no return of an outbox attempt (docs/ARCHITECTURE.md §24 "Email"): just
// before a provider can have a message, its attempt records `committed_at` on the outbox
// row — only while it still owns the row (same `attempts`, state `sending`) and its lease
// has at least `marginMs` left (the provider call that follows is bounded by that, so no
// other attempt can claim the row while the call is in flight; the UPDATE's row lock orders
// it against a claim). The mark is never cleared: a row found in `sending` after its lease
// without it certainly never reached the provider and is sent again; with it, some attempt
// may have delivered it — it is reconciled with the provider or reported, never resent blindly.
//
// Marks of concurrent sends on a node are grouped into one transaction (a few ms apart at
// most), so a campaign pays one commit per batch, not one per message.
import type { Database } from '../db/index.ts';

export interface CommitMarks {
  /**
   * Resolves true once the mark is committed; false when the attempt no longer owns the row or
   * its lease has less than `marginMs` left (then nothing may be sent by this attempt).
   */
  mark(id: string, attempts: number, marginMs: number): Promise<boolean>;
}

export function createCommitMarks(db: Database, options: { maxWaitMs?: number; maxBatch?: number } = {}): CommitMarks {
  const maxWait = options.maxWaitMs ?? 2;
  const maxBatch = options.maxBatch ?? 200;
  let pending: {
    id: string;
    attempts: number;
    margin: number;
    resolve: (ok: boolean) => void;
    reject: (e: unknown) => void;
  }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let flushing = Promise.resolve();

  function flush() {
    timer = undefined;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    flushing = flushing.then(async () => {
      try {
        const r = await db.asService('outbox.mark', (tx) =>
          tx.query<{ id: string }>(
            `UPDATE app.outbox x SET committed_at = clock_timestamp()
               FROM unnest($1::uuid[], $2::int[], $3::float8[]) AS m(id, attempts, margin_ms)
              WHERE x.id = m.id AND x.attempts = m.attempts AND x.state = 'sending'
                AND x.lease_until > clock_timestamp() + make_interval(secs => m.margin_ms / 1000)
             RETURNING x.id`,
            [batch.map((b) => b.id), batch.map((b) => b.attempts), batch.map((b) => b.margin)],
          ),
        );
        const ok = new Set(r.rows.map((x) => x.id));
        for (const b of batch) b.resolve(ok.has(b.id));
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    });
  }

  return {
    mark(id, attempts, marginMs) {
      return new Promise<boolean>((resolve, reject) => {
        pending.push({ id, attempts, margin: marginMs, resolve, reject });
        if (pending.length >= maxBatch) {
          if (timer) clearTimeout(timer);
          flush();
        } else timer ??= setTimeout(flush, maxWait);
      });
    },
  };
}
