// `capto jobs`: what the job engine holds — queues with their depth and failures,
// failed jobs, and putting one back (docs/OPERATIONS.md §8). Reads and writes the
// job tables as the server's login role, like a node does; runs no handler.
import type { Command } from '../cli/command.ts';
import type { Config } from '../config/index.ts';
import { openEngine } from '../db/index.ts';
import { openJobDatabase } from '../db/job-database.ts';
import { createJobEngine, type JobEngine } from './engine.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function withJobs<T>(config: Config, fn: (jobs: JobEngine) => Promise<T>): Promise<T> {
  // Embedded: a running server's database through its admin channel, else the data dir.
  const engine = await openEngine(config, 'capto jobs');
  const jobs = createJobEngine({
    database: openJobDatabase(engine, { max: 1 }),
    logger: {
      info: () => undefined,
      warn: () => undefined,
      error: (o: unknown) => console.error('job engine:', (o as { err?: Error }).err?.message ?? o),
    },
    workers: false,
  });
  try {
    await jobs.start();
    return await fn(jobs);
  } finally {
    await jobs.stop();
    await engine.close();
  }
}

const pad = (s: string | number, n: number) => String(s).padEnd(n);

export const jobsListCommand: Command = {
  name: 'jobs',
  summary: 'job queues: waiting, running and failed jobs, oldest wait (see jobs failed, jobs retry)',
  help: `capto jobs [--json] — one line per job queue: jobs waiting (queued), running
(active), failed (after their last retry, kept 7 days) and the age of the oldest job
that is due and still waiting.

  capto jobs failed [--queue NAME] [--limit N] [--json]   list failed jobs (newest first)
  capto jobs retry --queue NAME --id JOB_ID               put a failed job back in its queue

Server mode reads the database of DATABASE_URL while the nodes run; on the embedded
engine it uses the running server's database (admin channel) or opens the data dir.`,
  options: { json: { type: 'boolean' } },
  async run(values, config) {
    const stats = await withJobs(config, (jobs) => jobs.stats());
    if (values.json) {
      console.log(JSON.stringify({ queues: stats }, null, 2));
      return 0;
    }
    console.log(`${pad('queue', 22)}${pad('queued', 8)}${pad('active', 8)}${pad('failed', 8)}oldest wait`);
    for (const s of stats)
      console.log(
        `${pad(s.queue, 22)}${pad(s.queued, 8)}${pad(s.active, 8)}${pad(s.failed, 8)}${Math.round(s.oldestSeconds)} s`,
      );
    return 0;
  },
};

export const jobsFailedCommand: Command = {
  name: 'jobs failed',
  summary: 'list failed jobs (id, queue, attempts, error code)',
  help: `capto jobs failed [--queue NAME] [--limit N] [--json] — failed jobs, newest first
(default limit 50). A job's error is a stable code (e.g. twilio_unreachable); the full
error is in the server log at the time it failed. Retry one with
"capto jobs retry --queue NAME --id JOB_ID".`,
  options: { queue: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  async run(values, config) {
    const limit = values.limit === undefined ? 50 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      console.error('capto jobs failed: --limit must be a whole number from 1 to 1000');
      return 2;
    }
    const queue = typeof values.queue === 'string' ? values.queue : undefined;
    const failed = await withJobs(config, (jobs) => jobs.failedJobs({ queue, limit }));
    if (values.json) {
      console.log(JSON.stringify({ failed }, null, 2));
      return 0;
    }
    if (failed.length === 0) console.log('no failed jobs');
    for (const f of failed)
      console.log(`${f.id}  ${pad(f.queue, 20)} attempts ${f.retryCount + 1}  ${f.error ?? '-'}  ${f.failedOn ?? ''}`);
    return 0;
  },
};

export const jobsRetryCommand: Command = {
  name: 'jobs retry',
  summary: 'put a failed job back in its queue',
  help: `capto jobs retry --queue NAME --id JOB_ID — the failed job runs again (its handler
re-reads everything; an outbox delivery reconciles with the provider before sending,
so a retry never sends twice). Exit 1 when no failed job has that id in that queue.`,
  options: { queue: { type: 'string' }, id: { type: 'string' } },
  async run(values, config) {
    const queue = values.queue;
    const id = values.id;
    if (typeof queue !== 'string' || typeof id !== 'string' || !UUID.test(id)) {
      console.error('capto jobs retry: --queue NAME and --id JOB_ID (a uuid) are required');
      return 2;
    }
    const done = await withJobs(config, (jobs) => jobs.retry(queue, id));
    console.log(done ? `job ${id} is queued again in ${queue}` : `no failed job ${id} in ${queue}`);
    return done ? 0 : 1;
  },
};

export const jobsCommands: Command[] = [jobsListCommand, jobsFailedCommand, jobsRetryCommand];
