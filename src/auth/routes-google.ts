// GET /auth/google/start and /auth/google/callback: browser navigations, so the
// outcome is a redirect — into the app (which then calls POST /auth/token with the
// fresh refresh cookie; no token ever appears in a URL) or back to /signin?error=….
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../shared/errors.ts';
import { createGoogleSignIn, OIDC_COOKIE, OIDC_COOKIE_PATH } from './google.ts';
import { requestMeta, setRefreshCookie } from './http.ts';
import type { AuthServices } from './services.ts';
import { deriveSubkey } from '../vault/master-key.ts';

export async function googleRoutes(root: FastifyInstance, auth: AuthServices): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { config } = auth;
  const google = createGoogleSignIn({
    config,
    db: auth.db,
    service: auth.service,
    cookieKey: deriveSubkey(auth.masterKey, 'oidc-attempt-cookie'),
  });
  // SameSite=Lax, not Strict: the callback is a top-level navigation coming from Google.
  const cookieOptions = { httpOnly: true, secure: true, sameSite: 'lax' as const, path: OIDC_COOKIE_PATH };

  // Signed-out pages ask which sign-in methods this server offers, so the Google button
  // shows only when an operator configured a Google client (README: GOOGLE_CLIENT_ID).
  app.get(
    '/auth/providers',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign-in methods this server offers',
        response: { 200: z.object({ password: z.literal(true), google: z.boolean() }) },
      },
    },
    async () => ({ password: true as const, google: Boolean(config.google.clientId && config.google.clientSecret) }),
  );

  app.get('/auth/google/start', { schema: { tags: ['auth'], hide: false } }, async (request, reply) => {
    let started: Awaited<ReturnType<typeof google.start>>;
    try {
      started = await google.start();
    } catch (e) {
      // A browser navigation: send the person back to the sign-in page with the reason,
      // not a raw JSON error page (the page explains google_not_configured / oidc_failed).
      if (!(e instanceof AppError) || (e.code !== 'google_not_configured' && e.code !== 'oidc_failed')) throw e;
      request.log.info({ code: e.code }, 'google sign-in unavailable');
      return reply.redirect(`/signin?error=${encodeURIComponent(e.code)}`, 302);
    }
    const { url, cookie } = started;
    reply.setCookie(OIDC_COOKIE, cookie, { ...cookieOptions, maxAge: 600 });
    return reply.redirect(url, 302);
  });

  app.get(
    '/auth/google/callback',
    {
      schema: {
        tags: ['auth'],
        querystring: z
          .object({
            code: z.string().max(2048).optional(),
            state: z.string().max(512).optional(),
            error: z.string().max(256).optional(),
          })
          .passthrough(),
      },
    },
    async (request, reply) => {
      // One attempt, one use: the cookie is cleared whatever the outcome.
      reply.clearCookie(OIDC_COOKIE, cookieOptions);
      try {
        if (request.query.error) throw new AppError('oidc_failed', 'Google sign-in was cancelled');
        const callbackUrl = new URL(request.url, config.publicUrl);
        const signedIn = await google.finish(callbackUrl, request.cookies[OIDC_COOKIE], requestMeta(request));
        setRefreshCookie(reply, signedIn.refreshToken, config.sessionMaxAgeDays);
        return reply.redirect('/app', 302);
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        request.log.info(
          { code: e.code, cause: e.cause instanceof Error ? e.cause.message : undefined },
          'google sign-in refused',
        );
        return reply.redirect(`/signin?error=${encodeURIComponent(e.code)}`, 302);
      }
    },
  );
}
