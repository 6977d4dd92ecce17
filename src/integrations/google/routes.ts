// HTTP for the Google connection: status (any member), connect (owner/admin: returns
// the consent URL and sets the browser-binding cookie), add scopes to the connection
// (owner/admin, incremental consent, same cookie), the OAuth callback (a browser
// navigation back from Google, so it answers with a redirect to Settings), and
// disconnect (owner/admin). No response ever carries a Google token.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../../db/index.ts';
import type { RouteModule } from '../../server/app.ts';
import { AppError } from '../../shared/errors.ts';
import { inBusiness } from '../../server/scope.ts';
import { actorOf } from '../routes.ts';
import { ADDABLE_SCOPES, CALLBACK_PATH, CONNECT_COOKIE, type GoogleConnection } from './connection.ts';
import { BEARER_SECURITY } from '../../server/authenticate.ts';

const security = BEARER_SECURITY;
const tags = ['integrations'];
const bidParams = z.object({ bid: z.string().uuid() });
const statusSchema = z.object({
  configured: z.boolean(),
  connected: z.boolean(),
  google_email: z.string().nullable(),
  scopes: z.array(z.string()),
  access: z.array(
    z.object({
      key: z.string(),
      scope: z.string(),
      label: z.string(),
      purpose: z.string(),
      held: z.boolean(),
      addable: z.boolean(),
    }),
  ),
  connected_by: z.string().nullable(),
  connected_by_email: z.string().nullable(),
  connected_at: z.string().nullable(),
});

export function googleIntegrationRoutes(deps: {
  db: Database;
  google: GoogleConnection;
  publicUrl: string;
  secureCookies: boolean;
}): RouteModule {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const base = '/api/businesses/:bid/integrations/google';
    const settingsUrl = (businessId: string | undefined, outcome: string) =>
      `${deps.publicUrl}/settings/integrations?${new URLSearchParams({ ...(businessId ? { business: businessId } : {}), google: outcome })}`;

    // SameSite=Lax: the cookie must come back on Google's top-level redirect to the callback.
    const bindToBrowser = (reply: FastifyReply, state: string) =>
      reply.setCookie(CONNECT_COOKIE, state, {
        httpOnly: true,
        secure: deps.secureCookies,
        sameSite: 'lax',
        path: CALLBACK_PATH,
        maxAge: 600,
      });

    app.get(
      base,
      {
        schema: {
          tags,
          security,
          summary: 'Google connection status (any member; never a token)',
          params: bidParams,
          response: { 200: statusSchema },
        },
      },
      async (req) => ({
        configured: deps.google.configured,
        ...(await inBusiness(deps.db, req, req.params.bid, ({ tx }) => deps.google.status(tx, req.params.bid))),
      }),
    );

    app.get(
      `${base}/connect`,
      {
        schema: {
          tags,
          security,
          summary: 'Start connecting a Google account (owner/admin): returns the consent URL',
          params: bidParams,
          response: { 200: z.object({ authorization_url: z.string() }) },
        },
      },
      async (req, reply) => {
        const { url, state } = await deps.google.start(actorOf(req), req.params.bid);
        bindToBrowser(reply, state);
        return { authorization_url: url };
      },
    );

    app.post(
      `${base}/scopes`,
      {
        schema: {
          tags,
          security,
          summary:
            'Add access to the Google connection (owner/admin; incremental consent): returns the consent URL for the scopes not yet held',
          params: bidParams,
          body: z.object({ scopes: z.array(z.enum(ADDABLE_SCOPES)).min(1).max(ADDABLE_SCOPES.length) }).strict(),
          response: { 200: z.object({ authorization_url: z.string(), requested_scopes: z.array(z.string()) }) },
        },
      },
      async (req, reply) => {
        const { url, state, requested } = await deps.google.startAddScopes(
          actorOf(req),
          req.params.bid,
          req.body.scopes,
        );
        bindToBrowser(reply, state);
        return { authorization_url: url, requested_scopes: requested };
      },
    );

    // The callback's query holds the authorization code: keep it out of the request log.
    app.get(CALLBACK_PATH, { logLevel: 'warn', schema: { hide: true } }, async (req, reply) => {
      reply.clearCookie(CONNECT_COOKIE, { path: CALLBACK_PATH });
      const url = new URL(`${deps.publicUrl}${req.url}`);
      if (url.searchParams.has('error')) return reply.redirect(settingsUrl(undefined, 'denied'), 303);
      try {
        const { businessId, outcome } = await deps.google.finish(url, req.cookies[CONNECT_COOKIE]);
        req.log.warn({ business_id: businessId, outcome }, 'google consent finished');
        return reply.redirect(settingsUrl(businessId, outcome), 303);
      } catch (e) {
        const code = e instanceof AppError ? e.code : 'internal_error';
        req.log.warn({ code }, 'google connection failed');
        const outcome =
          code === 'conflict'
            ? 'already_connected'
            : code === 'google_account_mismatch'
              ? 'account_mismatch'
              : 'failed';
        return reply.redirect(settingsUrl(undefined, outcome), 303);
      }
    });

    app.delete(
      base,
      {
        schema: {
          tags,
          security,
          summary: 'Disconnect Google (owner/admin): revokes the grant at Google and deletes the stored tokens',
          params: bidParams,
          response: { 200: z.object({ revoked: z.boolean() }) },
        },
      },
      async (req) => {
        const out = await deps.google.disconnect(actorOf(req), req.params.bid);
        req.log.info({ business_id: req.params.bid, revoked: out.revoked }, 'google account disconnected');
        return out;
      },
    );
  };
}
