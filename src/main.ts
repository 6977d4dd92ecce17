// The composition root (docs/ARCHITECTURE.md §2): config → engine → migrations → database helpers →
// services → app → listen. Nothing else wires modules together.
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { ConfigError, productionProblems, type Config } from './config/index.ts';
import { openEngine, type Database, type Engine } from './db/index.ts';
import { migrate } from './db/migrator.ts';
import { createDatabase } from './db/request.ts';
import { crmRoutes } from './crm/routes.ts';
import { integrationModules } from './integrations/index.ts';
import { createOutreach } from './outreach/index.ts';
import { createTwilioClient } from './integrations/twilio/client.ts';
import { messagingRoutes } from './messaging/routes.ts';
import { aiModule, createAssistDeps } from './ai/index.ts';
import { aiIntentHandler, aiIntentQueue } from './jobs/ai-intent.ts';
import { createVault } from './vault/secrets.ts';
import { deriveSubkey } from './vault/master-key.ts';
import { contactImport } from './crm/import/index.ts';
import { authRoutes, createAuthServices } from './auth/index.ts';
import { demoRoutes } from './demo/index.ts';
import { tenancyRoutes } from './tenancy/index.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { scanOnStart } from './scan/gate.ts';
import { createReadiness } from './ops/readiness.ts';
import { buildApp, type RouteModule } from './server/app.ts';
import type { TokenVerifier } from './server/authenticate.ts';
import { metricsModule } from './observability/metrics-routes.ts';
import { createJobEngine, type JobEngine } from './jobs/engine.ts';
import { openJobDatabase } from './db/job-database.ts';
import { demoPurgeHandler, demoPurgeQueue } from './jobs/demo-purge.ts';
import { trashPurgeHandler, trashPurgeQueue } from './jobs/trash-purge.ts';
import { importResumeHandler, importResumeQueue } from './jobs/import-resume.ts';
import { observeJobs, type PoolStats } from './observability/metrics.ts';
import {
  outboxDeliverHandler,
  outboxDeliverQueue,
  outboxNotifier,
  successorDelaySeconds,
} from './jobs/outbox-deliver.ts';
import { outboxSweepHandler, outboxSweepQueue } from './jobs/outbox-sweep.ts';
import { automationsNotifier, automationsRunHandler, automationsRunQueue } from './jobs/automations-run.ts';
import { automationRoutes } from './automations/routes.ts';
import { createOutboxDelivery } from './messaging/outbox.ts';
import { createSmsDriver } from './messaging/sms-driver.ts';
import { loadOrCreateTls } from './server/tls.ts';
import { notificationRoutes } from './notifications/routes.ts';
import { registerNotificationQueues } from './jobs/notifications.ts';
import { createGbp } from './gbp/index.ts';
import { gbpReviewRequestRoutes } from './gbp/review-requests.ts';
import { gbpSweepQueue } from './jobs/gbp-publish.ts';

export interface StartOptions {
  logger?: Logger;
  /** How long /readyz trusts a passing check (tests set 0). */
  readinessRecheckMs?: number;
}

export interface RunningCapto {
  url: string;
  port: number;
  app: FastifyInstance;
  engine: Engine;
  db: Database;
  jobs: JobEngine;
  config: Config;
  close(): Promise<void>;
}

const WEB_DIST = fileURLToPath(new URL('../web/dist/', import.meta.url));

/**
 * Every route module of the app, in registration order, the token verifier of the
 * authentication step, and the job handlers behind them (registered on `jobs`). Building
 * them touches no database, so `npm run gen:api` builds the same app (and its
 * /openapi.json) from here without a server (scripts/gen-api.ts).
 */
export function routeModules(deps: {
  config: Config;
  db: Database;
  logger: Logger;
  engineKind: Engine['kind'];
  pool?: PoolStats;
  jobs: JobEngine;
}) {
  const { config, db, logger, jobs } = deps;
  const auth = createAuthServices({ config, db, logger });
  const imports = contactImport({ db, logger, engineKind: deps.engineKind });
  jobs.register(demoPurgeQueue, demoPurgeHandler(db, logger));
  jobs.register(trashPurgeQueue, trashPurgeHandler(db, logger));
  jobs.register(importResumeQueue, importResumeHandler(imports.runner));
  const modules: RouteModule[] = [
    authRoutes(auth),
    tenancyRoutes({
      config,
      db,
      logger,
      mailer: auth.mailer,
      rateKeySecret: deriveSubkey(auth.masterKey, 'rate-limit-keys').bytes,
    }),
    demoRoutes(auth),
    crmRoutes({ db }),
    imports.routes,
  ];
  const vault = createVault(auth.masterKey);
  const twilio = createTwilioClient(config.twilioApiBase);
  // Inbound texts get an intent label by a job, not inside the webhook (docs/ARCHITECTURE.md §23).
  const assist = createAssistDeps({ config, db, vault });
  jobs.register(aiIntentQueue, aiIntentHandler(assist));
  const messaging = {
    db,
    logger,
    vault,
    twilio,
    publicUrl: config.publicUrl,
    outbox: outboxNotifier(jobs),
    afterInboundStored: (ids: { business_id: string; message_id: string }) => jobs.send(aiIntentQueue, ids),
  };
  // Every outgoing message goes through the outbox (docs/ARCHITECTURE.md §24).
  const lease = config.jobs.outboxLeaseSeconds;
  const outreach = createOutreach({
    config,
    db,
    vault,
    twilio,
    masterKey: auth.masterKey,
    logger,
    outbox: messaging.outbox,
  });
  const delivery = createOutboxDelivery({
    db,
    logger,
    leaseSeconds: lease,
    drivers: [
      createSmsDriver({
        db,
        vault,
        twilio,
        publicUrl: config.publicUrl,
        cap: config.jobs.outboxCap,
        smsWindow: config.campaigns.smsWindow,
      }),
      outreach.emailDriver,
    ],
  });
  const deliverExpiry = 2 * lease + 5;
  jobs.register(outboxDeliverQueue, outboxDeliverHandler(delivery, jobs, successorDelaySeconds(deliverExpiry)), {
    expireInSeconds: deliverExpiry,
    retryDelayMax: Math.max(lease, 5),
  });
  jobs.register(outboxSweepQueue, outboxSweepHandler(db, jobs));
  // Automation steps run by a job, each in its own transaction (docs/ARCHITECTURE.md §25).
  jobs.register(
    automationsRunQueue,
    automationsRunHandler(
      {
        db,
        logger,
        smsWindow: config.campaigns.smsWindow,
        notifyOutbox: messaging.outbox.notify,
        // draft_ai_reply holds its enrollment for the model call's timeout and a minute more.
        ai: { assist, leaseMs: config.ai.timeoutMs + 60_000 },
      },
      jobs,
      // At most half the pool: the outbox's deliveries share it.
      {
        workers: Math.max(1, Math.min(config.jobs.concurrency, Math.floor(config.dbPoolSize / 2))),
        pollMs: config.jobs.pollSeconds * 1000,
      },
    ),
  );
  modules.push(
    ...integrationModules({ config, db, vault, twilio }),
    ...outreach.modules,
    messagingRoutes(messaging),
    aiModule({ config, db, vault, messaging, assist }),
    automationRoutes(db, automationsNotifier(jobs).nudge),
  );
  // Google Business Profile: location, posts published by a job (docs/ARCHITECTURE.md §26).
  const gbp = createGbp({ config, db, vault, jobs, logger, assist });
  modules.push(...gbp.modules);
  // Review requests go out through the outbox and the campaign drain (docs/ARCHITECTURE.md §26).
  modules.push(gbpReviewRequestRoutes({ db, outbox: messaging.outbox, smsWindow: config.campaigns.smsWindow, logger }));
  const notificationDeps = { db, logger, mailer: auth.mailer, publicUrl: config.publicUrl };
  modules.push(notificationRoutes(notificationDeps));
  registerNotificationQueues(jobs, notificationDeps);

  // First: its hook takes the metrics bearer token before the auth hook reads bearers as JWTs.
  modules.unshift(metricsModule({ config, pool: deps.pool }));
  const tokens: TokenVerifier = auth.tokens;
  return { auth, modules, tokens, outreach };
}

export async function startCapto(config: Config, options: StartOptions = {}): Promise<RunningCapto> {
  const problems = productionProblems(config);
  if (problems.length > 0) throw new ConfigError(`refusing to start in production:\n  - ${problems.join('\n  - ')}`);
  const logger = options.logger ?? createLogger(config);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  // One process per embedded data dir (src/db/data-dir-lock.ts); while it runs, operator
  // commands reach its database through the admin channel it serves (docs/ARCHITECTURE.md §5).
  const engine = await openEngine(config, 'capto start', { serve: true });
  let jobs: JobEngine | undefined;
  try {
    const result = await engine.withMaintenanceClient((client) => migrate(client));
    if (result.applied.length > 0) logger.info({ applied: result.applied }, 'migrations applied');
    const scanErrors = config.scanOnStart ? await scanOnStart(engine, config, logger) : undefined;

    // Named prepared statements where each pooled connection is its own session (§7).
    const db = createDatabase(engine.pool, { preparedStatements: engine.kind === 'server' });
    const jobEngine = createJobEngine({
      database: openJobDatabase(engine, { onError: (err) => logger.error({ err }, 'job engine connection lost') }),
      logger,
      workers: config.jobs.enabled,
      pollSeconds: config.jobs.pollSeconds,
      superviseSeconds: config.jobs.superviseSeconds,
      concurrency: config.jobs.concurrency,
    });
    jobs = jobEngine;
    const { auth, modules, tokens, outreach } = routeModules({
      config,
      db,
      logger,
      engineKind: engine.kind,
      pool: engine.pool,
      jobs: jobEngine,
    });

    const readiness = createReadiness({
      db,
      engine,
      masterKey: auth.masterKey,
      logger,
      scanErrors,
      recheckMs: options.readinessRecheckMs,
    });
    const tls = await loadOrCreateTls(config);
    const { app, startDraining } = await buildApp({
      config,
      db,
      logger,
      tls,
      modules,
      tokens,
      readiness,
      spaRoot: existsSync(WEB_DIST) ? WEB_DIST : undefined,
    });
    // Before listening: a request may enqueue as soon as it is served.
    await jobEngine.start();
    const stopJobMetrics = observeJobs(() => jobEngine.stats());
    await app.listen({ host: config.host, port: config.port });
    const port = (app.server.address() as AddressInfo).port;
    // Say at once, in the log, when this node cannot serve (a wrong master key …): /readyz stays 503.
    await readiness.problems().catch((err: unknown) => logger.warn({ err }, 'readiness check failed to run'));
    const url = config.port === 0 ? config.publicUrl.replace(/:\d+$/, `:${port}`) : config.publicUrl;
    // Imports interrupted by this node's previous life resume once idle (src/jobs/import-resume.ts).
    if (config.jobs.enabled) {
      await jobEngine.send(importResumeQueue, {});
      // Outbox rows whose nudge was lost when this node (or another) stopped.
      await jobEngine.send(outboxSweepQueue, {});
      // Business Profile posts that fell due while no node ran (docs/ARCHITECTURE.md §26).
      await jobEngine.send(gbpSweepQueue, {});
      // Automation steps that fell due while no node ran them (docs/ARCHITECTURE.md §25).
      await automationsNotifier(jobEngine).nudge();
    }
    // Campaign delivery runs on every node; recipients are claimed row by row (SKIP LOCKED).
    if (config.campaigns.dispatch) outreach.dispatcher.start();

    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      app,
      engine,
      db,
      jobs: jobEngine,
      config,
      close() {
        closing ??= (async () => {
          startDraining();
          await app.close(); // stops accepting, waits for in-flight requests
          await outreach.close();
          stopJobMetrics();
          await jobEngine.stop(); // waits for handlers in flight
          await engine.close();
        })();
        return closing;
      },
    };
  } catch (e) {
    await jobs?.stop().catch(() => undefined);
    await engine.close().catch(() => undefined);
    throw e;
  }
}
