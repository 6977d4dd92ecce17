// The automation scheduler's job (docs/ARCHITECTURE.md §25): `automations.run` runs every due
// enrollment step (src/automations/scheduler.ts) and then books itself for the next due time.
// It ticks every minute (cron), and is nudged after a trigger enrolls someone and when a node
// starts. Several runs at once — on one node or many — are safe: each step locks its enrollment
// with SKIP LOCKED. Job ids are derived from the second they are for, so nudges and follow-ups
// within one second are one job.
//
// Lag (due → step ran): a run does not end while the next due step is near (`holdMs`); it waits
// for it on a timer and runs it on time, taking trigger events in meanwhile. A later step is
// booked as a job `leadMs` early — a job starts only when a worker polls after its startAfter —
// and the run it starts waits out the rest. So a step runs within tens of milliseconds of its
// due time while the node keeps up, not on the job's polling and re-booking grid.
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

/** While a run holds, trigger events are taken in at least this often. */
const INTAKE_EVERY_MS = 1000;
/** Date triggers are judged at most this often (one query per active date automation). */
const DATES_EVERY_MS = 15_000;
/** The shortest wait between holding passes: steps due closer together than this go in one pass. */
const HOLD_TICK_MS = 50;

/** A uuid (RFC 9562 version 8) naming one second of the scheduler's timeline. */
export function tickId(at: Date): string {
  const h = createHash('sha256')
    .update(`automations.run:${Math.floor(at.getTime() / 1000)}`)
    .digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Wake the scheduler now (after a trigger's commit, or when a node starts). */
export function automationsNotifier(jobs: JobSender) {
  return {
    async nudge(): Promise<void> {
      const now = new Date();
      await jobs.send(automationsRunQueue, {}, { id: tickId(now) });
    },
  };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

export function automationsRunHandler(
  deps: SchedulerDeps & { db: Database },
  jobs: JobSender,
  options: {
    workers: number;
    /** How long one run may go on (then it books its successor at once). */
    budgetMs?: number;
    /** The job engine's polling interval: how late after its startAfter a booked job may start. */
    pollMs?: number;
    /** The scheduler's clock; the holding waits are real timers. */
    now?: () => Date;
  } = { workers: 2 },
): JobHandler<object> {
  const now = options.now ?? (() => new Date());
  const budgetMs = options.budgetMs ?? 60_000;
  const leadMs = (options.pollMs ?? 2000) + 1000;
  const holdMs = leadMs + 2000;
  // One run at a time on this node: a cron tick, a nudge or a follow-up that comes while a run
  // drains or holds would only add loops contending for the same rows and pool connections (the
  // outbox's deliveries need them too); the running one takes trigger events in every second
  // and books its successor. Other nodes run their own (the row locks keep them apart).
  let running = false;
  return async (_payload, job) => {
    if (running) return;
    running = true;
    try {
      await runOnce(job);
    } finally {
      running = false;
    }
  };
  async function runOnce(job: Parameters<JobHandler<object>>[1]): Promise<void> {
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), budgetMs);
    const abort = () => stop.abort();
    job.signal.addEventListener('abort', abort, { once: true });
    let next: Awaited<ReturnType<typeof nextDueAt>> = null;
    let locked = false;
    try {
      let intakeAt = -Infinity;
      let datesAt = -Infinity;
      for (;;) {
        // Trigger events first (they make enrollments due now), then the due steps.
        const t = performance.now();
        if (t - intakeAt >= INTAKE_EVERY_MS) {
          await intakeAll(deps.db, now(), stop.signal);
          intakeAt = t;
        }
        if (t - datesAt >= DATES_EVERY_MS) {
          await enrollDateTriggers(deps.db, now());
          datesAt = t;
        }
        const ran = await runDueSteps(deps, {
          now,
          workers: options.workers,
          // A pass ends after a second, so a backlog does not keep trigger events waiting.
          signal: AbortSignal.any([stop.signal, AbortSignal.timeout(INTAKE_EVERY_MS)]),
        });
        if (stop.signal.aborted) break;
        next = await nextDueAt(deps.db, now());
        if (!next?.step) break;
        const wait = next.step.getTime() - now().getTime();
        // Due, yet this pass took nothing: another run has it locked and goes on with it.
        if (wait <= 0 && ran === 0) {
          locked = true;
          break;
        }
        if (wait > holdMs) break;
        if (wait > 0) await sleep(Math.min(Math.max(wait, HOLD_TICK_MS), INTAKE_EVERY_MS), stop.signal);
      }
    } finally {
      clearTimeout(timer);
      job.signal.removeEventListener('abort', abort);
    }
    if (job.signal.aborted) return;
    // Book the next run: the budget ran out → at once (the next second: a job id no nudge of this
    // second has taken); a due step locked by another run → look again in 5 s; else the next due
    // step leadMs early, or the next 15 s grid point to look for trigger events; the cron covers
    // the rest. Overlapping runs compute the same second, hence the same job.
    const t = now().getTime();
    let at: number | undefined;
    if (stop.signal.aborted) at = t + 1000;
    else if (locked) at = t + 5000;
    else if (next) {
      const early = next.step ? next.step.getTime() - leadMs : Infinity;
      at = Math.max(Math.min(early, next.poll.getTime()), t + 1000);
    }
    if (at !== undefined && at - t < 60_000)
      await jobs.send(automationsRunQueue, {}, { id: tickId(new Date(at)), startAfter: new Date(at) });
  }
}
