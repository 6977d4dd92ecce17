// The durable job engine (docs/ARCHITECTURE.md §22): pg-boss 12 on the same
// PostgreSQL as the data, on both engines. Jobs are rows in schema `pgboss`; workers
// claim them with SELECT … FOR UPDATE SKIP LOCKED, so any number of nodes share a
// queue, and a job whose node died is retried once its claim expires.
//
// The engine connects with its own small pool as the server's login role (capto_app),
// which holds DML on the job tables and nothing more there; the request roles have no
// privilege on them at all (the scan's `job_schema_exposed` checks it). Handlers get
// the payload — ids only — and re-read what they need through `Database` under the
// proper role (asService, asUser).
//
// Usage (from a route or a service, after the transaction that made the work):
//   await jobs.send(importRunQueue, { business_id, import_id });
// and at the composition root:
//   jobs.register(importRunQueue, (payload, job) => runner.run(payload, job.signal));
import { PgBoss, type Job, type JobResult, type SendOptions as BossSendOptions } from 'pg-boss';
import type { JobDatabase } from '../db/job-database.ts';
import type { Logger } from '../observability/logger.ts';
import { metrics } from '../observability/metrics.ts';
import { AppError } from '../shared/errors.ts';
import { JOB_SCHEMA } from '../db/job-schema.ts';
import type { QueueDefinition, QueuePolicy } from './queue.ts';

export interface JobContext {
  /** The pg-boss job id (stable across retries). */
  id: string;
  /** 0 on the first attempt. */
  retryCount: number;
  retryLimit: number;
  /** Aborted when the node stops or the job's claim expires: stop at the next safe point. */
  signal: AbortSignal;
}

export type JobHandler<P> = (payload: P, job: JobContext) => Promise<void>;

export interface SendOptions {
  /** A uuid: a second send with the same id is ignored while the first job is kept. */
  id?: string;
  /** Not before this time (or this many seconds from now). */
  startAfter?: Date | number;
  /** With an `exclusive` queue: at most one queued-or-active job per key. */
  singletonKey?: string;
  priority?: number;
}

/** What other modules need: enqueue. Typed by the queue, validated against its schema. */
export interface JobSender {
  send<P>(queue: QueueDefinition<P>, payload: P, options?: SendOptions): Promise<string | null>;
  /** Many jobs of one queue in one statement (jobs whose `id` exists already are skipped). */
  sendMany<P>(queue: QueueDefinition<P>, jobs: { payload: P; id?: string }[]): Promise<void>;
}

export interface QueueStat {
  queue: string;
  /** Jobs waiting: created or retry, due now or later. */
  queued: number;
  active: number;
  /** Failed jobs still kept (deleteAfterSeconds). */
  failed: number;
  /** Age in seconds of the oldest job that is due and waiting; 0 when none. */
  oldestSeconds: number;
}

export interface FailedJob {
  id: string;
  queue: string;
  retryCount: number;
  createdOn: string;
  failedOn: string | null;
  /** The stable error code the handler failed with (never a message with data in it). */
  error: string | null;
}

export interface JobEngine extends JobSender {
  /**
   * Declare a queue and, optionally, its handler on this node. Before start(). `policy`
   * overrides the queue's (settings that depend on configuration, e.g. an expiry).
   */
  register<P>(queue: QueueDefinition<P>, handler?: JobHandler<P>, policy?: QueuePolicy): void;
  start(): Promise<void>;
  /** Stop fetching, wait for handlers in flight (up to the timeout), close the pool. */
  stop(): Promise<void>;
  stats(): Promise<QueueStat[]>;
  failedJobs(options?: { queue?: string; limit?: number }): Promise<FailedJob[]>;
  /** Put a failed job back in its queue. False when there is no such failed job. */
  retry(queue: string, id: string): Promise<boolean>;
}

export interface JobEngineOptions {
  /** The engine's own connections (src/db/job-database.ts); closed by stop(). */
  database: JobDatabase;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Run handlers, schedules and supervision here (a CLI only reads and retries). */
  workers: boolean;
  pollSeconds?: number;
  superviseSeconds?: number;
  concurrency?: number;
  /** Seconds stop() waits for handlers in flight. */
  stopTimeoutSeconds?: number;
}

/**
 * The error stored with a failed job: its code only. pg-boss keeps a handler's error in
 * the job row, and a raw message can carry data (a PostgreSQL detail names the
 * conflicting value); the full error goes to the log, which redacts secrets.
 */
export class JobFailure extends Error {
  override name = 'JobFailure';
  readonly code: string;
  constructor(code: string) {
    super(code);
    this.code = code;
    this.stack = `JobFailure: ${code}`;
  }
}

export function failureCode(e: unknown): string {
  if (e instanceof JobFailure) return e.code;
  if (e instanceof AppError) return e.code;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return `db_${code}`;
  return 'internal_error';
}

export function createJobEngine(options: JobEngineOptions): JobEngine {
  const { logger } = options;
  const queues = new Map<string, { queue: QueueDefinition<unknown>; handler?: JobHandler<unknown> }>();
  const { database } = options;
  const boss = new PgBoss({
    db: database,
    schema: JOB_SCHEMA,
    // The schema is installed and upgraded by the migrator as capto_owner; this
    // login may not run DDL, so pg-boss only checks the version.
    migrate: false,
    // REINDEX needs ownership of the indexes (capto_owner's), and rebuilds are
    // an operator's decision here (docs/OPERATIONS.md §8).
    reindex: false,
    // The instance registry would store host names and process details: not needed.
    registerInstance: false,
    supervise: options.workers,
    schedule: options.workers,
    superviseIntervalSeconds: options.superviseSeconds ?? 60,
    monitorIntervalSeconds: options.superviseSeconds ?? 60,
    openTelemetry: { enabled: false },
  });
  // An 'error' event without a listener would end the process: pg-boss reports failed
  // polls here (the database restarting, a network blip) and keeps polling.
  boss.on('error', (err) => logger.error({ err }, 'job engine error'));
  boss.on('warning', (w) => logger.warn({ job_warning: w.message }, 'job engine warning'));
  let started = false;

  // Jobs are fetched in batches and run concurrently, each settled on its own
  // (perJobResults): a full batch fetches again at once instead of waiting a polling
  // interval, so a backlog drains at the handlers' pace.
  const wrap = <P>(queue: QueueDefinition<P>, handler: JobHandler<P>) => {
    const runOne = async (job: Job<unknown>): Promise<JobResult> => {
      const began = performance.now();
      const parsed = queue.payload.safeParse(job.data);
      if (!parsed.success) {
        metrics.jobRuns.inc({ queue: queue.name, outcome: 'failed' });
        logger.error({ queue: queue.name, job_id: job.id }, 'job payload does not match its queue');
        return { id: job.id, status: 'failed', output: { code: 'invalid_payload' } };
      }
      try {
        await handler(parsed.data, {
          id: job.id,
          retryCount: job.retryCount,
          retryLimit: queue.policy.retryLimit ?? 2,
          signal: job.signal,
        });
        metrics.jobRuns.inc({ queue: queue.name, outcome: 'completed' });
        return { id: job.id, status: 'completed' };
      } catch (e) {
        const code = failureCode(e);
        metrics.jobRuns.inc({ queue: queue.name, outcome: 'failed' });
        logger.error({ err: e, queue: queue.name, job_id: job.id, retry: job.retryCount, code }, 'job failed');
        return { id: job.id, status: 'failed', output: { code } };
      } finally {
        metrics.jobDuration.observe({ queue: queue.name }, (performance.now() - began) / 1000);
      }
    };
    return (jobs: Job<unknown>[]) => Promise.all(jobs.map(runOne));
  };

  const sql = <R>(text: string, values?: unknown[]) => database.executeSql(text, values) as Promise<{ rows: R[] }>;

  const engine: JobEngine = {
    register(queue, handler, policy) {
      if (started) throw new Error(`queue ${queue.name} registered after the job engine started`);
      if (queues.has(queue.name)) throw new Error(`queue ${queue.name} registered twice`);
      queues.set(queue.name, {
        queue: { ...queue, policy: { ...queue.policy, ...policy } } as QueueDefinition<unknown>,
        handler: handler as JobHandler<unknown> | undefined,
      });
    },

    async start() {
      if (started) return;
      started = true;
      await boss.start();
      for (const { queue, handler } of queues.values()) {
        const { policy = 'standard', retryBackoff = true, ...rest } = queue.policy;
        const settings = { retryBackoff, retryDelay: 1, deleteAfterSeconds: 7 * 86_400, ...rest };
        await boss.createQueue(queue.name, { policy, ...settings });
        // Keep an existing queue's settings current with the code (createQueue leaves them).
        await boss.updateQueue(queue.name, settings);
        if (!options.workers) continue;
        if (queue.cron) await boss.schedule(queue.name, queue.cron, {}, { tz: 'UTC' });
        if (handler) {
          await boss.work(
            queue.name,
            {
              batchSize: queue.batchSize ?? options.concurrency ?? 4,
              perJobResults: true,
              burstWhenBatchFull: true,
              pollingIntervalSeconds: options.pollSeconds ?? 2,
              localConcurrency: 1,
            },
            wrap(queue, handler),
          );
        }
      }
    },

    async stop() {
      if (!started) return;
      started = false;
      await boss.stop({ graceful: true, close: true, timeout: (options.stopTimeoutSeconds ?? 15) * 1000 });
      await database.close();
    },

    async send(queue, payload, sendOptions = {}) {
      if (!queues.has(queue.name)) throw new Error(`queue ${queue.name} is not registered`);
      const parsed = queue.payload.parse(payload);
      const o: BossSendOptions = {};
      if (sendOptions.id) o.id = sendOptions.id;
      if (sendOptions.singletonKey) o.singletonKey = sendOptions.singletonKey;
      if (sendOptions.priority !== undefined) o.priority = sendOptions.priority;
      if (sendOptions.startAfter !== undefined) o.startAfter = sendOptions.startAfter;
      return boss.send(queue.name, parsed as object, o);
    },

    async sendMany(queue, items) {
      if (!queues.has(queue.name)) throw new Error(`queue ${queue.name} is not registered`);
      if (items.length === 0) return;
      await boss.insert(
        queue.name,
        items.map((j) => ({ data: queue.payload.parse(j.payload) as object, ...(j.id ? { id: j.id } : {}) })),
      );
    },

    async stats() {
      const r = await sql<{ queue: string; queued: number; active: number; failed: number; oldest: number | null }>(
        `SELECT q.name AS queue,
                count(j.id) FILTER (WHERE j.state IN ('created', 'retry'))::int AS queued,
                count(j.id) FILTER (WHERE j.state = 'active')::int AS active,
                count(j.id) FILTER (WHERE j.state = 'failed')::int AS failed,
                extract(epoch FROM now() - min(j.created_on) FILTER (
                  WHERE j.state IN ('created', 'retry') AND j.start_after <= now()))::float8 AS oldest
           FROM ${JOB_SCHEMA}.queue q
           LEFT JOIN ${JOB_SCHEMA}.job j ON j.name = q.name AND j.state IN ('created', 'retry', 'active', 'failed')
          GROUP BY q.name ORDER BY q.name`,
      );
      return r.rows.map((row) => ({
        queue: row.queue,
        queued: row.queued,
        active: row.active,
        failed: row.failed,
        oldestSeconds: Math.max(0, row.oldest ?? 0),
      }));
    },

    async failedJobs({ queue, limit = 50 } = {}) {
      const r = await sql<{
        id: string;
        name: string;
        retry_count: number;
        created_on: Date;
        completed_on: Date | null;
        error: string | null;
      }>(
        `SELECT id::text, name, retry_count, created_on, completed_on, output->>'code' AS error
           FROM ${JOB_SCHEMA}.job WHERE state = 'failed' AND ($1::text IS NULL OR name = $1)
          ORDER BY completed_on DESC NULLS LAST, id LIMIT $2`,
        [queue ?? null, Math.min(Math.max(1, limit), 1000)],
      );
      return r.rows.map((row) => ({
        id: row.id,
        queue: row.name,
        retryCount: row.retry_count,
        createdOn: new Date(row.created_on).toISOString(),
        failedOn: row.completed_on ? new Date(row.completed_on).toISOString() : null,
        error: row.error,
      }));
    },

    async retry(queue, id) {
      const r = await sql<{ id: string }>(
        `SELECT id::text FROM ${JOB_SCHEMA}.job WHERE name = $1 AND id::text = $2 AND state = 'failed'`,
        [queue, id],
      );
      if (!r.rows[0]) return false;
      await boss.retry(queue, id);
      return true;
    },
  };
  return engine;
}
