// Prometheus metrics (docs/ARCHITECTURE.md §19) in one registry per process. Other modules count
// their events through the exported `metrics` object, e.g.
//   metrics.authEvents.inc({ type: 'signin.failed' })
//   metrics.webhookSignatureFailures.inc({ provider: 'twilio' })
//   metrics.scanFindings.set({ level: 'ERROR' }, n)
// Labels are closed sets (route patterns, event types): never a raw URL, an id or an
// email, which would both leak data to the scraper and explode cardinality.
import client from 'prom-client';
import { buildInfo } from '../shared/build-info.ts';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'capto_process_' });

/** What the metrics need of a connection pool (pg.Pool has exactly these). */
export interface PoolStats {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

const pools = new Set<PoolStats>();

// capto_build_info{version, commit, node} 1: which build each node runs (a mixed fleet
// during a rolling restart shows as two series).
const build = buildInfo();
new client.Gauge({
  name: 'capto_build_info',
  help: 'The running build: package version, git commit and Node.js version (value is always 1)',
  labelNames: ['version', 'commit', 'node'] as const,
  registers: [registry],
}).set({ version: build.version, commit: build.commit, node: build.node }, 1);

export const metrics = {
  httpRequests: new client.Counter({
    name: 'capto_http_requests_total',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  }),
  httpDuration: new client.Histogram({
    name: 'capto_http_request_duration_seconds',
    help: 'HTTP request latency by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  }),
  dbPool: new client.Gauge({
    name: 'capto_db_pool_connections',
    help: 'Database pool connections: total, idle, and requests waiting for one',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      let total = 0,
        idle = 0,
        waiting = 0;
      for (const p of pools) {
        total += p.totalCount;
        idle += p.idleCount;
        waiting += p.waitingCount;
      }
      this.set({ state: 'total' }, total);
      this.set({ state: 'idle' }, idle);
      this.set({ state: 'waiting' }, waiting);
    },
  }),
  authEvents: new client.Counter({
    name: 'capto_auth_events_total',
    help: 'Authentication events by type (sign-in, failure, refresh reuse, lockout …)',
    labelNames: ['type'] as const,
    registers: [registry],
  }),
  webhookSignatureFailures: new client.Counter({
    name: 'capto_webhook_signature_failures_total',
    help: 'Inbound webhooks rejected because their signature did not verify',
    labelNames: ['provider'] as const,
    registers: [registry],
  }),
  scanFindings: new client.Gauge({
    name: 'capto_scan_findings',
    help: 'Findings of the last database scan by level',
    labelNames: ['level'] as const,
    registers: [registry],
  }),
  jobRuns: new client.Counter({
    name: 'capto_job_runs_total',
    help: 'Job attempts run on this node by queue and outcome (completed, failed: retried or dead)',
    labelNames: ['queue', 'outcome'] as const,
    registers: [registry],
  }),
  jobDuration: new client.Histogram({
    name: 'capto_job_duration_seconds',
    help: 'Job handler run time on this node by queue',
    labelNames: ['queue'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [registry],
  }),
  jobQueue: new client.Gauge({
    name: 'capto_job_queue_jobs',
    help: 'Jobs in the database by queue and state (queued: waiting, active, failed: kept after their last retry)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await readJobStats()) {
        this.set({ queue: s.queue, state: 'queued' }, s.queued);
        this.set({ queue: s.queue, state: 'active' }, s.active);
        this.set({ queue: s.queue, state: 'failed' }, s.failed);
      }
    },
  }),
  jobOldest: new client.Gauge({
    name: 'capto_job_queue_oldest_seconds',
    help: 'Age of the oldest job that is due and still waiting, by queue (0: none waiting)',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await readJobStats()) this.set({ queue: s.queue }, s.oldestSeconds);
    },
  }),
  outboxMessages: new client.Counter({
    name: 'capto_outbox_deliveries_total',
    help: 'Outbox delivery attempts by channel and outcome (sent, reconciled, failed, deferred)',
    labelNames: ['channel', 'outcome'] as const,
    registers: [registry],
  }),
};

/** Per-queue figures the job gauges read at scrape time. */
export interface JobQueueStats {
  queue: string;
  queued: number;
  active: number;
  failed: number;
  oldestSeconds: number;
}

let jobStatsSource: (() => Promise<JobQueueStats[]>) | undefined;
let jobStatsRead: Promise<JobQueueStats[]> | undefined;

/** One database read per scrape, shared by both job gauges; a failure shows no queues. */
function readJobStats(): Promise<JobQueueStats[]> {
  if (!jobStatsSource) return Promise.resolve([]);
  jobStatsRead ??= jobStatsSource()
    .catch(() => [])
    .finally(() => setTimeout(() => (jobStatsRead = undefined), 100).unref());
  return jobStatsRead;
}

/** Report the job queues in the job gauges until the returned function is called. */
export function observeJobs(source: () => Promise<JobQueueStats[]>): () => void {
  jobStatsSource = source;
  return () => {
    if (jobStatsSource === source) jobStatsSource = undefined;
  };
}

/** Report a pool in capto_db_pool_connections until the returned function is called. */
export function observePool(pool: PoolStats): () => void {
  pools.add(pool);
  return () => void pools.delete(pool);
}
