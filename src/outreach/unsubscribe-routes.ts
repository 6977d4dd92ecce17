// The public unsubscribe page (RFC 8058; docs/ARCHITECTURE.md "Campaigns"). GET shows a
// confirmation form (a link scanner's GET must not unsubscribe anyone); POST — from that
// form or from a mail client's one-click `List-Unsubscribe=One-Click` — adds the
// contact's address to the business's suppression list, which every later send honours.
// A bad or forged token is the same 404 page: nothing is learned from it.
import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/index.ts';
import type { RouteModule } from '../server/app.ts';
import { addressDigest, type UnsubscribeTokens } from './unsubscribe.ts';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

export function unsubscribeRoutes(deps: { db: Database; tokens: UnsubscribeTokens }): RouteModule {
  return async (root: FastifyInstance) => {
    await root.register(async (app) => {
      // Only here: a one-click POST (RFC 8058 §3.2) comes as multipart/form-data or
      // application/x-www-form-urlencoded, our own form as the latter. The signed token is
      // the whole authority, so whatever the body says is read and dropped.
      app.addContentTypeParser(
        ['application/x-www-form-urlencoded', 'multipart/form-data'],
        { parseAs: 'string', bodyLimit: 4096 },
        (_req, _body, done) => done(null, undefined),
      );

      // The address the link unsubscribes: the one that was mailed. A token that names it
      // (by digest) finds it among the contact's current address and the addresses she was
      // mailed at — so the link still works after her address changed or was removed, and
      // never shows or suppresses her new one; an older token means her current address.
      const lookup = async (token: string) => {
        const claim = deps.tokens.verify(token);
        if (!claim) return undefined;
        return deps.db.asService('unsubscribe.lookup', async (tx) => {
          const r = await tx.query<{ email: string | null; business: string }>(
            `SELECT c.email::text AS email, b.name AS business FROM app.contacts c JOIN app.businesses b ON b.id = c.business_id
              WHERE c.business_id = $1 AND c.id = $2`,
            [claim.businessId, claim.contactId],
          );
          const found = r.rows[0];
          if (!found || !claim.address) return found ? { claim, ...found } : undefined;
          const mailed = (a: string | null) => a !== null && addressDigest(a).equals(claim.address!);
          if (mailed(found.email)) return { claim, ...found };
          const sent = await tx.query<{ address: string }>(
            `SELECT r.address FROM app.campaign_recipients r
              WHERE r.business_id = $1 AND r.contact_id = $2 AND r.address LIKE '%@%'
             UNION
             SELECT e.to_address FROM app.contact_emails e WHERE e.business_id = $1 AND e.contact_id = $2`,
            [claim.businessId, claim.contactId],
          );
          return { claim, business: found.business, email: sent.rows.map((x) => x.address).find(mailed) ?? null };
        });
      };
      const notFoundPage = (reply: import('fastify').FastifyReply) =>
        reply
          .status(404)
          .type('text/html; charset=utf-8')
          .send(page('Link not valid', '<p>This unsubscribe link is not valid or has expired.</p>'));

      app.get<{ Params: { token: string } }>('/u/:token', { schema: { hide: true } }, async (req, reply) => {
        const found = await lookup(req.params.token);
        if (!found || found.claim.channel !== 'email' || !found.email) return notFoundPage(reply);
        const action = `/u/${encodeURIComponent(req.params.token)}`;
        return reply
          .header('cache-control', 'no-store')
          .header('referrer-policy', 'no-referrer')
          .type('text/html; charset=utf-8')
          .send(
            page(
              'Unsubscribe',
              `<p>Stop receiving marketing email from <strong>${escapeHtml(found.business)}</strong> at ${escapeHtml(found.email)}?</p>` +
                `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="confirm" value="yes"><button type="submit">Unsubscribe</button></form>`,
            ),
          );
      });

      app.post<{ Params: { token: string } }>('/u/:token', { schema: { hide: true } }, async (req, reply) => {
        const found = await lookup(req.params.token);
        if (!found || found.claim.channel !== 'email' || !found.email) return notFoundPage(reply);
        const { claim, email } = found;
        await deps.db.asService('unsubscribe.record', async (tx) => {
          const ins = await tx.query(
            `INSERT INTO app.email_suppressions (business_id, email, reason, detail, contact_id)
             VALUES ($1, $2, 'unsubscribed', 'unsubscribe link', $3) ON CONFLICT DO NOTHING`,
            [claim.businessId, email, claim.contactId],
          );
          if (ins.rowCount === 1) {
            await tx.query(
              `INSERT INTO app.contact_events (business_id, contact_id, kind, details)
               VALUES ($1, $2, 'opted_out', jsonb_build_object('channel', 'email', 'via', 'unsubscribe_link'))`,
              [claim.businessId, claim.contactId],
            );
          }
        });
        req.log.info({ business_id: claim.businessId, contact_id: claim.contactId }, 'email unsubscribe');
        return reply
          .header('cache-control', 'no-store')
          .type('text/html; charset=utf-8')
          .send(
            page(
              'You are unsubscribed',
              `<p>${escapeHtml(email)} will not receive marketing email from ${escapeHtml(found.business)} again.</p>`,
            ),
          );
      });
    });
  };
}
