// GET /metrics and the request counting hook. Metrics reveal traffic shape and error
// rates, so they are served only to a direct loopback caller or to a scraper holding
// CAPTO_METRICS_TOKEN. "Direct" matters: behind a reverse proxy on the same host every
// request arrives from 127.0.0.1, so a request carrying X-Forwarded-For/Forwarded came
// through the proxy and is treated as remote. The socket address is used, never
// request.ip, which trustProxy derives from a header the client controls.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.ts';
import { AppError } from '../shared/errors.ts';
import { metrics, observePool, registry, type PoolStats } from './metrics.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export function isDirectLoopback(request: FastifyRequest): boolean {
  const address = request.socket?.remoteAddress ?? '';
  const proxied = request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined;
  return LOOPBACK.has(address) && !proxied;
}

/** Constant-time comparison of the bearer token (hashing first equalises the lengths). */
export function hasMetricsToken(request: FastifyRequest, token: string | undefined): boolean {
  if (!token) return false;
  const m = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (!m) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m[1]!), digest(token));
}

export interface MetricsModuleOptions {
  config: Pick<Config, 'metricsToken'>;
  pool?: PoolStats;
}

/**
 * A route module whose hook applies to the whole app (skip-override, as
 * fastify-plugin does), so every route — including ones registered before it — is
 * counted under its route pattern.
 */
export function metricsModule(options: MetricsModuleOptions) {
  const tokenHolders = new WeakSet<FastifyRequest>();
  const module = async (app: FastifyInstance) => {
    if (options.pool) {
      const stop = observePool(options.pool);
      app.addHook('onClose', async () => stop());
    }
    // The metrics token is not a user's JWT: a scrape that presents it is marked and the
    // header consumed here, before the auth module's bearer hook would reject it.
    app.addHook('onRequest', async (request) => {
      if (request.url.split('?')[0] !== '/metrics' || request.headers.authorization === undefined) return;
      if (hasMetricsToken(request, options.config.metricsToken)) {
        tokenHolders.add(request);
        delete request.headers.authorization;
      }
    });
    app.addHook('onResponse', async (request, reply) => {
      // 404s have no pattern: one label for all of them, not one per probed URL.
      const route = request.routeOptions.url ?? 'unmatched';
      const labels = { method: request.method, route, status: String(reply.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
      // Webhook routes answer 403 exactly when the sender could not be authenticated
      // (bad or missing signature, unknown configuration): count them per provider.
      const hook = /^\/webhooks\/([a-z]+)\//.exec(route);
      if (hook && reply.statusCode === 403) metrics.webhookSignatureFailures.inc({ provider: hook[1]! });
    });
    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      if (!isDirectLoopback(request) && !tokenHolders.has(request)) {
        reply.header('www-authenticate', 'Bearer realm="capto-metrics"');
        throw options.config.metricsToken
          ? new AppError('unauthorized', 'metrics need Authorization: Bearer <CAPTO_METRICS_TOKEN>')
          : new AppError(
              'forbidden',
              'metrics are served to loopback only; set CAPTO_METRICS_TOKEN to scrape remotely',
            );
      }
      reply.header('cache-control', 'no-store');
      return reply.type(registry.contentType).send(await registry.metrics());
    });
  };
  (module as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return module;
}
