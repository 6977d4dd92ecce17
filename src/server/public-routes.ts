// Routes that need no user: health, readiness and the RFC 9116 security.txt (P12).
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import { sendError } from './error-handler.ts';
import type { Readiness } from '../ops/readiness.ts';

/** A load balancer's or supervisor's probe: /healthz or /readyz. */
export function isProbeRequest(req: { url?: string }): boolean {
  return /^\/(healthz|readyz)(\?|$)/.test(req.url ?? '');
}

export interface PublicRouteDeps {
  config: Config;
  db: Database;
  isDraining: () => boolean;
  readiness?: Readiness;
}

/** RFC 9116: Contact and Expires are required; Expires must be less than a year ahead. */
export function securityTxt(config: Pick<Config, 'publicUrl' | 'securityContact'>, now = new Date()): string {
  const expires = new Date(now.getTime() + 180 * 24 * 3600 * 1000);
  expires.setUTCHours(0, 0, 0, 0);
  return [
    `Contact: ${config.securityContact}`,
    `Expires: ${expires.toISOString()}`,
    'Preferred-Languages: en',
    `Canonical: ${config.publicUrl}/.well-known/security.txt`,
    `Policy: ${config.publicUrl}/security`,
    '',
  ].join('\n');
}

export async function publicRoutes(app: FastifyInstance, deps: PublicRouteDeps): Promise<void> {
  // Probes arrive every few seconds: their request lines are logged at debug (ProbesAtDebug in app.ts).
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    if (deps.isDraining()) return sendError(reply, new AppError('service_unavailable', 'the server is shutting down'));
    await deps.db.asAnon((tx) => tx.query('SELECT 1'));
    // The details (which key, which migration) go to the log; the answer names the checks only.
    const problems = (await deps.readiness?.problems()) ?? [];
    if (problems.length > 0) {
      const checks = [...new Set(problems.map((p) => p.check))].join(', ');
      return sendError(
        reply,
        new AppError('service_unavailable', `not ready: ${checks} (the server log says why)`, {
          details: { checks: [...new Set(problems.map((p) => p.check))] },
        }),
      );
    }
    return { status: 'ready' };
  });

  app.get('/.well-known/security.txt', { schema: { hide: true } }, async (_request, reply) => {
    return reply
      .type('text/plain; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(securityTxt(deps.config));
  });
}
