// What a queue is (docs/ARCHITECTURE.md §22): a name, a payload schema that
// admits ids only, and pg-boss's retry/expiry policy. Each queue lives in its own file
// beside its handler; the composition root (src/main.ts) registers them.
import { createHash } from 'node:crypto';
import { z } from 'zod';

export interface QueuePolicy {
  /**
   * pg-boss policy: `standard` (many jobs), `exclusive` (at most one queued or active —
   * periodic sweeps, so two nodes never run one at the same time).
   */
  policy?: 'standard' | 'exclusive';
  /** Attempts after the first (default 2). */
  retryLimit?: number;
  /** Seconds before the first retry; doubled each time with retryBackoff (default on). */
  retryDelay?: number;
  retryBackoff?: boolean;
  retryDelayMax?: number;
  /**
   * Seconds a job may stay active before it counts as crashed and is retried (its node
   * died or hung). Must exceed the handler's longest honest run.
   */
  expireInSeconds?: number;
  /** Seconds completed and failed jobs are kept (for `capto jobs` and /metrics). */
  deleteAfterSeconds?: number;
  /**
   * With a heartbeat, a long job refreshes its claim every heartbeatSeconds/2 and is
   * retried sooner (after heartbeatSeconds of silence) when its node dies.
   */
  heartbeatSeconds?: number;
}

export interface QueueDefinition<P> {
  /** `area.verb`, e.g. `demo.purge`, `outbox.deliver`. */
  readonly name: string;
  /** The payload's schema: strict, ids only — never personal data or a secret. */
  readonly payload: z.ZodType<P>;
  readonly policy: QueuePolicy;
  /** A cron schedule (UTC): one job per tick across all nodes. */
  readonly cron?: string;
  /** Jobs fetched together and run at once per node (default: CAPTO_JOBS_CONCURRENCY). */
  readonly batchSize?: number;
}

const NAME = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+$/;

export function defineQueue<P>(definition: QueueDefinition<P>): QueueDefinition<P> {
  if (!NAME.test(definition.name)) throw new Error(`invalid queue name: ${definition.name}`);
  return Object.freeze({ ...definition, policy: Object.freeze({ ...definition.policy }) });
}

/** Payload fields: ids only. */
export const id = () => z.uuid();
/** The empty payload of sweeps and schedules. */
export const noPayload = z.object({}).strict();

/** A uuid (RFC 9562 version 8) derived from `text`: the same text always names the same job. */
export function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * The id of the job a last attempt books to take its work up again (§22): pg-boss keeps a job
 * that used up its retries — or whose node died during its last attempt — as failed, and a
 * second send with its id is ignored meanwhile, so whatever booked the work by that id (a
 * nudge, a sweep) cannot book it again. Derived from the job's id: booking it twice books it once.
 */
export function successorId(jobId: string): string {
  return uuidFrom(`successor:${jobId}`);
}
