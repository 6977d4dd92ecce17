// The auth HTTP surface: sign-up, sign-in, refresh, sign-out, the JWKS, and (from
// routes-account.ts / routes-google.ts) the account and Google sign-in endpoints. Access
// tokens are checked by the authentication step (src/server/authenticate.ts) on every
// route that declares bearer security, not here.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RouteModule } from '../server/app.ts';
import { OPTIONAL_BEARER_SECURITY, optionalCallerOf } from '../server/authenticate.ts';
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
import { deriveSubkey } from '../vault/master-key.ts';
import { accountRoutes } from './routes-account.ts';
import { emailSchema, passwordSchema, tokenResponseSchema } from './schemas.ts';
import { googleRoutes } from './routes-google.ts';

export function authRoutes(auth: AuthServices): RouteModule {
  const module: RouteModule = async (root: FastifyInstance) => {
    const { config, service, signingKeys } = auth;
    const app = root.withTypeProvider<ZodTypeProvider>();
    const limits = await installAuthRateLimits(
      root,
      config,
      auth.db,
      deriveSubkey(auth.masterKey, 'rate-limit-keys').bytes,
    );
    root.addHook('onClose', async () => limits.close());

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
        schema: {
          tags: ['auth'],
          querystring: z.object({
            optional: z
              .literal('1')
              .optional()
              .describe('answer 204 instead of 401 when the request carries no refresh cookie at all'),
          }),
          response: {
            200: tokenResponseSchema,
            204: z.null().describe('optional=1 and no refresh cookie: signed out'),
          },
        },
      },
      async (request, reply) => {
        assertSameOrigin(request, config.publicUrl);
        const token = refreshCookieOf(request);
        // The web app's load probe: a browser without the cookie is simply signed out, not
        // an error (docs/ARCHITECTURE.md §20 "Tokens"); a bad cookie is still a 401.
        if (!token && request.query.optional === '1') return reply.status(204).send(null);
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
          // By access token or refresh cookie: a token sent must be live (OPTIONAL_BEARER_SECURITY).
          security: OPTIONAL_BEARER_SECURITY,
          querystring: z.object({ scope: z.enum(['local', 'global', 'others']).default('local') }),
        },
      },
      async (request, reply) => {
        const refreshToken = refreshCookieOf(request);
        const claims = optionalCallerOf(request) ?? null;
        if (!claims && refreshToken) assertSameOrigin(request, config.publicUrl);
        if (!claims && !refreshToken) throw new AppError('unauthorized', 'sign in to continue');
        await service.signOut({ claims, refreshToken }, request.query.scope, requestMeta(request));
        if (request.query.scope !== 'others') clearRefreshCookie(reply);
        return reply.status(204).send();
      },
    );

    await accountRoutes(root, auth, limits);
    await googleRoutes(root, auth);
  };
  // Like fastify-plugin: no encapsulation, so the no-store hook sees every /auth/ route.
  (module as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return module;
}
