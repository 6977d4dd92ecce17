// The automation scheduler's job (docs/ARCHITECTURE.md §25): `automations.run` runs every due
// enrollment step (src/automations/scheduler.ts) and then books itself for the next due time.
// It ticks every minute (cron) and is nudged after a trigger enrolls someone. Several runs at
// once — on one node or many — are safe: each step locks its enrollment with SKIP LOCKED. Job
// ids are derived from the second they are for, so nudges and follow-ups within one second
// are one job.
import { createHash } from 'node:crypto';
import type { Database } from '../db/index.ts';
import { enrollDateTriggers, intakeAll } from '../automations/intake.ts';
import { nextDueAt, runDueSteps, type SchedulerDeps } from '../automations/scheduler.ts';
import type { JobHandler, JobSender } from './engine.ts';
import { defineQueue, noPayload } from './queue.ts';

export const automationsRunQueue = defineQueue({
  name: 'automations.run',
  payload: noPayload,
  policy: { retryLimit: 2, retryDelay: 5, expireInSeconds: 180, deleteAfterSeconds: 3600 },
  cron: '* * * * *',
});

/** A uuid (RFC 9562 version 8) naming one second of the scheduler's timeline. */
export function tickId(at: Date): string {
  const h = createHash('sha256')
    .update(`automations.run:${Math.floor(at.getTime() / 1000)}`)
    .digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Wake the scheduler now (after a trigger's commit). */
export function automationsNotifier(jobs: JobSender) {
  return {
    async nudge(): Promise<void> {
      const now = new Date();
      await jobs.send(automationsRunQueue, {}, { id: tickId(now) });
    },
  };
}

export function automationsRunHandler(
  deps: SchedulerDeps & { db: Database },
  jobs: JobSender,
  options: { workers: number; budgetMs?: number; now?: () => Date } = { workers: 2 },
): JobHandler<object> {
  const now = options.now ?? (() => new Date());
  const budgetMs = options.budgetMs ?? 60_000;
  return async (_payload, job) => {
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), budgetMs);
    const abort = () => stop.abort();
    job.signal.addEventListener('abort', abort, { once: true });
    try {
      // Trigger events first (they make enrollments due now), then the due steps.
      await intakeAll(deps.db, now(), stop.signal);
      await enrollDateTriggers(deps.db, now());
      await runDueSteps(deps, { now, workers: options.workers, signal: stop.signal });
    } finally {
      clearTimeout(timer);
      job.signal.removeEventListener('abort', abort);
    }
    if (job.signal.aborted) return;
    // Book the next run: at once if the budget ran out, else at the next due step, looking at
    // least every 15 s while an automation is active (new trigger events); the cron covers the rest.
    const next = stop.signal.aborted ? now() : await nextDueAt(deps.db, now());
    if (next && next.getTime() - now().getTime() < 60_000) {
      // Something due that this run could not take is another run's (locked): look again soon.
      const at = new Date(Math.max(next.getTime(), now().getTime() + (next <= now() ? 5000 : 1000)));
      await jobs.send(automationsRunQueue, {}, { id: tickId(at), startAfter: at });
    }
  };
}
