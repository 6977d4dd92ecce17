// POST /auth/demo ("Try the demo"): answers like sign-in (access token in the body,
// refresh token in the cookie), for a new demo user in a new seeded demo workspace.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuthServices } from '../auth/services.ts';
import { assertSameOrigin, requestMeta, setRefreshCookie, tokenResponse } from '../auth/http.ts';
import { tokenResponseSchema } from '../auth/schemas.ts';
import type { RouteModule } from '../server/app.ts';
import { DEMO_LIFETIME_HOURS } from './purge.ts';
import { startDemo } from './start.ts';

// Each demo writes ~1,000 rows: a per-IP budget keeps one client from filling the database.
const DEMOS_PER_IP_PER_HOUR = 20;

export function demoRoutes(auth: AuthServices): RouteModule {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/auth/demo',
      {
        config: {
          rateLimit: {
            max: DEMOS_PER_IP_PER_HOUR,
            timeWindow: 3_600_000,
            keyGenerator: (req: { ip: string }) => `demo:ip:${req.ip}`,
          },
        },
        schema: {
          tags: ['auth'],
          summary:
            'Start a demo: a new demo user signed in to a new, seeded demo workspace that is deleted after 24 hours',
          body: z.object({}).strict().optional(),
          response: { 201: tokenResponseSchema.extend({ business_id: z.string() }) },
        },
      },
      async (request, reply) => {
        // It sets a session cookie: same CSRF wall as sign-in.
        assertSameOrigin(request, auth.config.publicUrl);
        const s = await startDemo(auth.db, auth.service, requestMeta(request));
        request.log.info({ user_id: s.user.id, business_id: s.businessId }, 'demo workspace started');
        setRefreshCookie(reply, s.refreshToken, DEMO_LIFETIME_HOURS / 24);
        return reply.status(201).send({ ...tokenResponse(s), business_id: s.businessId });
      },
    );
  };
}
