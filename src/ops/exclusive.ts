// One runner at a time across every app node (docs/ARCHITECTURE.md §19). Background work — demo
// purge, Google token refresh, import jobs — is started by a timer on EVERY node; the
// first node to take the PostgreSQL advisory lock does it, the others skip that tick.
//
// The lock is transaction-scoped (pg_try_advisory_xact_lock): it is released by
// COMMIT/ROLLBACK, and by the server when a node dies mid-job, so a crashed node can
// never hold it forever (a session lock on a pooled connection could). `fn` runs
// INSIDE the locking transaction, as capto_service, and must do its work through the
// `tx` it is given: on the embedded engine every transaction is queued behind the open
// one, so opening a second transaction from `fn` would wait for itself.
//
// Exclusion is not "exactly once per period": a node whose timer fires after another
// node finished runs again. Jobs must therefore be idempotent (delete what is expired,
// refresh what is about to expire, claim rows with FOR UPDATE SKIP LOCKED) — each of
// ours is — and then "at most one at a time" is what makes them run once.
import { createHash } from 'node:crypto';
import type { Database, Tx } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { metrics } from '../observability/metrics.ts';

/** The first key of the two-int4 advisory lock space reserved for these jobs. */
export const JOB_LOCK_NAMESPACE = 7270;
const KEY = /^[a-z][a-z0-9_.:-]{0,60}$/;

export type ExclusiveResult<T> = { ran: true; value: T } | { ran: false };

/** A stable int4 for a job name: the same on every node, every version, every engine. */
export function lockIdFor(lockKey: string): number {
  return createHash('sha256').update(lockKey).digest().readInt32BE(0);
}

/** Run `fn` if no other node runs `lockKey` right now; otherwise return { ran: false } at once. */
export async function runExclusive<T>(
  db: Database,
  lockKey: string,
  fn: (tx: Tx) => Promise<T>,
): Promise<ExclusiveResult<T>> {
  if (!KEY.test(lockKey)) throw new Error(`invalid lock key: ${lockKey}`);
  try {
    const result = await db.asService(`job:${lockKey}`, async (tx): Promise<ExclusiveResult<T>> => {
      const r = await tx.query<{ got: boolean }>('SELECT pg_try_advisory_xact_lock($1, $2) AS got', [
        JOB_LOCK_NAMESPACE,
        lockIdFor(lockKey),
      ]);
      if (!r.rows[0]?.got) return { ran: false };
      return { ran: true, value: await fn(tx) };
    });
    metrics.backgroundJobs.inc({ job: lockKey, outcome: result.ran ? 'ran' : 'skipped' });
    return result;
  } catch (e) {
    metrics.backgroundJobs.inc({ job: lockKey, outcome: 'failed' });
    throw e;
  }
}

export interface PeriodicJob {
  /** Run one tick now (tests, `capto` commands); resolves when it is done. */
  runNow(): Promise<ExclusiveResult<unknown> | undefined>;
  /** Stop the timer and wait for a tick in flight, so the pool can close under it. */
  stop(): Promise<void>;
}

/**
 * Every node calls this with the same job; ticks are jittered by up to 10 % so the
 * nodes do not all hit the lock in the same millisecond. Failures are logged, never thrown.
 */
export function startPeriodicJob(
  db: Database,
  logger: Logger,
  lockKey: string,
  intervalMs: number,
  fn: (tx: Tx) => Promise<unknown>,
): PeriodicJob {
  let running: Promise<ExclusiveResult<unknown> | undefined> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = () => {
    running ??= runExclusive(db, lockKey, fn)
      .catch((e: unknown) => {
        logger.error({ err: e, job: lockKey }, 'background job failed');
        return undefined;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void tick().finally(schedule), intervalMs * (0.95 + Math.random() * 0.1));
    timer.unref();
  };
  schedule();
  return {
    runNow: tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
