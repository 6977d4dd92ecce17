// The auth HTTP surface (DESIGN §6). Its onRequest hook verifies `Authorization:
// Bearer` on EVERY route of the app (the module is registered without encapsulation,
// first in `modules`) and sets `request.claims`; a bad token is a 401, never anonymous.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RouteModule } from '../server/app.ts';
import { AppError } from '../shared/errors.ts';
import type { AuthServices } from './services.ts';
import {
  assertSameOrigin,
  clearRefreshCookie,
  refreshCookieOf,
  requestMeta,
  setRefreshCookie,
  tokenResponse,
} from './http.ts';
import { installAuthRateLimits } from './rate-limits.ts';
import { accountRoutes } from './routes-account.ts';
import { emailSchema, passwordSchema, tokenResponseSchema } from './schemas.ts';
import { googleRoutes } from './routes-google.ts';

const BEARER = /^Bearer ([A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]*\.[A-Za-z0-9_=-]*)$/;

export function authRoutes(auth: AuthServices): RouteModule {
  const module: RouteModule = async (root: FastifyInstance) => {
    const { config, service, tokens, signingKeys } = auth;
    const app = root.withTypeProvider<ZodTypeProvider>();
    const limits = await installAuthRateLimits(root, config, auth.db);
    root.addHook('onClose', async () => limits.close());

    root.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const header = request.headers.authorization;
      if (header === undefined) return;
      const m = BEARER.exec(header);
      try {
        if (!m) throw new AppError('invalid_token', 'the access token is not valid');
        request.claims = await tokens.verify(m[1]!);
      } catch (e) {
        reply.header('www-authenticate', 'Bearer error="invalid_token"');
        throw e;
      }
    });

    // RFC 6749 §5.1: responses carrying tokens (and everything else under /auth) must not be cached.
    root.addHook('onSend', async (request, reply) => {
      if (request.url.startsWith('/auth/') && !reply.hasHeader('cache-control'))
        reply.header('cache-control', 'no-store');
    });

    app.get('/.well-known/jwks.json', { schema: { hide: true } }, async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return signingKeys.jwks();
    });

    const credentials = z.object({ email: emailSchema, password: passwordSchema });

    app.post(
      '/auth/signup',
      {
        config: limits.perIp('signup'),
        schema: { tags: ['auth'], body: credentials, response: { 201: tokenResponseSchema } },
      },
      async (request, reply) => {
        await limits.perAccount(request, reply, 'signup', request.body.email);
        const s = await service.signUp(request.body.email, request.body.password, requestMeta(request));
        setRefreshCookie(reply, s.refreshToken, config.sessionMaxAgeDays);
        return reply.status(201).send(tokenResponse(s));
      },
    );

    app.post(
      '/auth/signin',
      {
        config: limits.perIp('signin'),
        schema: { tags: ['auth'], body: credentials, response: { 200: tokenResponseSchema } },
      },
      async (request, reply) => {
        await limits.perAccount(request, reply, 'signin', request.body.email);
        const s = await service.signIn(request.body.email, request.body.password, requestMeta(request));
        setRefreshCookie(reply, s.refreshToken, config.sessionMaxAgeDays);
        return tokenResponse(s);
      },
    );

    app.post(
      '/auth/token',
      {
        config: limits.perIp('refresh'),
        schema: { tags: ['auth'], response: { 200: tokenResponseSchema } },
      },
      async (request, reply) => {
        assertSameOrigin(request, config.publicUrl);
        const token = refreshCookieOf(request);
        if (!token) throw new AppError('refresh_token_invalid', 'sign in again');
        try {
          const s = await service.refresh(token, requestMeta(request));
          setRefreshCookie(reply, s.refreshToken, config.sessionMaxAgeDays);
          return tokenResponse(s);
        } catch (e) {
          if (e instanceof AppError) clearRefreshCookie(reply);
          throw e;
        }
      },
    );

    app.post(
      '/auth/signout',
      {
        schema: {
          tags: ['auth'],
          querystring: z.object({ scope: z.enum(['local', 'global', 'others']).default('local') }),
        },
      },
      async (request, reply) => {
        const refreshToken = refreshCookieOf(request);
        if (!request.claims && refreshToken) assertSameOrigin(request, config.publicUrl);
        if (!request.claims && !refreshToken) throw new AppError('unauthorized', 'sign in to continue');
        await service.signOut({ claims: request.claims, refreshToken }, request.query.scope, requestMeta(request));
        if (request.query.scope !== 'others') clearRefreshCookie(reply);
        return reply.status(204).send();
      },
    );

    await accountRoutes(root, auth, limits);
    await googleRoutes(root, auth);
  };
  // Like fastify-plugin: no encapsulation, so the bearer hook covers every later module.
  (module as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return module;
}
