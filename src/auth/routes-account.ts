// Account endpoints: password change / forgot / reset, email verification, the
// session list and revocation, and the caller's own auth events.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Claims } from '../db/index.ts';
import { BEARER_SECURITY, callerOf } from '../server/authenticate.ts';
import { createAfterResponse } from '../server/after-response.ts';
import { rateLimitedResponse } from '../server/error-schemas.ts';
import { AppError } from '../shared/errors.ts';
import { createAccountService } from './account.ts';
import { clearRefreshCookie, requestMeta } from './http.ts';
import type { AuthServices } from './services.ts';
import type { AuthRateLimits } from './rate-limits.ts';
import { emailSchema, passwordSchema } from './schemas.ts';

const tokenSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'not a valid link token');

function sessionClaims(request: FastifyRequest): Required<Claims> {
  const c = callerOf(request);
  if (!c.sid) throw new AppError('invalid_token', 'the access token is not valid');
  return { sub: c.sub, sid: c.sid };
}

export async function accountRoutes(root: FastifyInstance, auth: AuthServices, limits: AuthRateLimits): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const account = createAccountService({
    db: auth.db,
    config: auth.config,
    mailer: auth.mailer,
    breach: auth.breach,
    service: auth.service,
  });
  const accepted = { status: z.literal('accepted') };
  const afterResponse = createAfterResponse(auth.logger);
  root.addHook('onClose', async () => afterResponse.drain());

  app.post(
    '/auth/password',
    {
      config: limits.perIp('password'),
      schema: {
        tags: ['auth'],
        security: BEARER_SECURITY,
        body: z.object({
          current_password: passwordSchema,
          new_password: passwordSchema,
          keep_other_sessions: z.boolean().default(false),
        }),
      },
    },
    async (request, reply) => {
      const claims = sessionClaims(request);
      await limits.perAccount(request, reply, 'password', claims.sub);
      await account.changePassword(
        claims,
        request.body.current_password,
        request.body.new_password,
        request.body.keep_other_sessions,
        requestMeta(request),
      );
      return reply.status(204).send();
    },
  );

  app.post(
    '/auth/password/forgot',
    {
      config: limits.perIp('forgot'),
      schema: {
        tags: ['auth'],
        description:
          'Always 202, registered address or not, and in the same time: the reset token and mail are made ' +
          'after the answer. Limited per client IP and per address (429 with retry_after).',
        body: z.object({ email: emailSchema }),
        response: { 202: z.object(accepted), 429: rateLimitedResponse },
      },
    },
    async (request, reply) => {
      await limits.perAccount(request, reply, 'forgot', request.body.email);
      // Answer first, then look the address up, issue the token and mail it: a registered
      // address must not answer slower than an unknown one (no enumeration by timing).
      const { email } = request.body;
      const meta = requestMeta(request);
      afterResponse.schedule(reply, 'auth.password.forgot', () =>
        account.forgotPassword(email, meta, (address) => limits.spendMail(address)),
      );
      return reply.status(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/auth/password/reset',
    {
      config: limits.perIp('reset'),
      schema: { tags: ['auth'], body: z.object({ token: tokenSchema, new_password: passwordSchema }) },
    },
    async (request, reply) => {
      // Keyed by the link token: a 256-bit token cannot be guessed, but one link must not
      // be hammered to probe new passwords against HIBP through us.
      await limits.perAccount(request, reply, 'reset', request.body.token);
      await account.resetPassword(request.body.token, request.body.new_password, requestMeta(request));
      clearRefreshCookie(reply);
      return reply.status(204).send();
    },
  );

  app.post(
    '/auth/verify',
    {
      config: limits.perIp('verify'),
      schema: { tags: ['auth'], body: z.object({ token: tokenSchema }) },
    },
    async (request, reply) => {
      await account.verifyEmail(request.body.token, requestMeta(request));
      return reply.status(204).send();
    },
  );

  app.post(
    '/auth/verify/resend',
    {
      config: limits.perIp('verify'),
      schema: {
        tags: ['auth'],
        security: BEARER_SECURITY,
        description: 'Mail a new verification link. Limited per account and per address (429 with retry_after).',
        response: { 202: z.object(accepted), 429: rateLimitedResponse },
      },
    },
    async (request, reply) => {
      const claims = sessionClaims(request);
      await limits.perAccount(request, reply, 'verify', claims.sub);
      await account.resendVerification(claims, (address) => limits.spendMail(address));
      return reply.status(202).send({ status: 'accepted' });
    },
  );

  app.get('/auth/sessions', { schema: { tags: ['auth'], security: BEARER_SECURITY } }, async (request) => ({
    sessions: await account.listSessions(sessionClaims(request)),
  }));

  app.delete(
    '/auth/sessions/:id',
    {
      schema: { tags: ['auth'], security: BEARER_SECURITY, params: z.object({ id: z.uuid() }) },
    },
    async (request, reply) => {
      await account.revokeSession(sessionClaims(request), request.params.id, requestMeta(request));
      return reply.status(204).send();
    },
  );

  app.get(
    '/auth/events',
    {
      schema: {
        tags: ['auth'],
        security: BEARER_SECURITY,
        summary: 'My recent authentication events (token refreshes only with include_refreshes=true)',
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          // A signed-in tab refreshes its token every ~9 minutes: those entries would bury
          // the sign-ins a person checks this list for.
          include_refreshes: z.enum(['true', 'false']).default('false'),
        }),
      },
    },
    async (request) => ({
      events: await account.listEvents(
        sessionClaims(request),
        request.query.limit,
        request.query.include_refreshes === 'true',
      ),
    }),
  );
}
