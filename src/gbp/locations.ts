// The business's Business Profile location (docs/ARCHITECTURE.md §26): list what the connected
// Google user manages, attach one (replacing the previous one), detach. Owners and admins only —
// checked first with the membership row locked, and again by the database, which refuses a
// location change without an audit row by an owner/admin in the same transaction (0120).
// What is stored comes from Google's own answer for the chosen location, never from the client.
import { randomUUID } from 'node:crypto';
import type { Database, Tx } from '../db/index.ts';
import { recordIntegrationChange } from '../audit/integration-events.ts';
import { assertCanManageIntegrations, type Actor } from '../integrations/permissions.ts';
import { AppError } from '../shared/errors.ts';
import { asUpstream, assertBusinessScope, type GbpAccess } from './access.ts';
import { GbpApiError, type GbpClient, type GbpLocation } from './client.ts';

export interface AvailableLocation {
  account_name: string;
  account_title: string | null;
  location_name: string;
  title: string;
  address: string | null;
  review_uri: string | null;
}

export interface AttachedLocation {
  id: string;
  account_name: string;
  location_name: string;
  title: string;
  address: string | null;
  place_id: string | null;
  maps_uri: string | null;
  review_uri: string | null;
  status: 'active' | 'needs_reconnect';
  attached_by: string | null;
  attached_at: string;
}

const addressOf = (l: GbpLocation): string | null => {
  const a = l.storefrontAddress;
  if (!a) return null;
  const text = [...(a.addressLines ?? []), a.locality, [a.administrativeArea, a.postalCode].filter(Boolean).join(' ')]
    .filter(Boolean)
    .join(', ');
  return text ? text.slice(0, 500) : null;
};

export function createGbpLocations(deps: { db: Database; client: GbpClient; access: GbpAccess }) {
  const { db, client, access } = deps;

  const precheck = (actor: Actor, businessId: string) =>
    db.asService('gbp.locations.precheck', async (tx) => {
      await assertCanManageIntegrations(tx, businessId, actor.userId);
      await assertBusinessScope(tx, businessId);
    });

  async function available(businessId: string): Promise<AvailableLocation[]> {
    return access
      .withToken(businessId, async (token) => {
        const out: AvailableLocation[] = [];
        for (const account of await client.listAccounts(token)) {
          for (const l of await client.listLocations(token, account.name)) {
            out.push({
              account_name: account.name,
              account_title: account.accountName ?? null,
              location_name: l.name,
              title: l.title ?? l.name,
              address: addressOf(l),
              review_uri: l.metadata?.newReviewUri ?? null,
            });
          }
        }
        return out;
      })
      .catch(asUpstream);
  }

  return {
    /** As the caller (any member): the attached location, if any. */
    async current(tx: Tx, businessId: string): Promise<AttachedLocation | null> {
      const r = await tx.query<AttachedLocation & { attached_at: Date }>(
        `SELECT id, account_name, location_name, title, address, place_id, maps_uri, review_uri, status,
                attached_by, attached_at FROM app.gbp_locations WHERE business_id = $1`,
        [businessId],
      );
      const row = r.rows[0];
      return row ? { ...row, attached_at: row.attached_at.toISOString() } : null;
    },

    /** Owner/admin: the locations the connected Google user manages. */
    async list(actor: Actor, businessId: string): Promise<AvailableLocation[]> {
      await precheck(actor, businessId);
      return available(businessId);
    },

    /** Owner/admin: attach one location (replaces the previous one; audited). */
    async attach(
      actor: Actor,
      businessId: string,
      input: { account_name: string; location_name: string },
    ): Promise<AttachedLocation> {
      await precheck(actor, businessId);
      // Google's own answer for the chosen account says whether the user manages the location.
      const found = await access
        .withToken(businessId, (token) => client.listLocations(token, input.account_name))
        .catch((e: unknown) => {
          if (e instanceof GbpApiError && (e.status === 403 || e.status === 404)) return [];
          return asUpstream(e);
        });
      const l = found.find((x) => x.name === input.location_name);
      if (!l) throw new AppError('not_found', 'that location is not managed by the connected Google account');
      const chosen = {
        account_name: input.account_name,
        location_name: l.name,
        title: l.title ?? l.name,
        address: addressOf(l),
        review_uri: l.metadata?.newReviewUri ?? null,
      };
      const meta = l.metadata ?? {};
      return db.asService('gbp.locations.attach', async (tx) => {
        await assertCanManageIntegrations(tx, businessId, actor.userId);
        const conn = await tx.query<{ id: string }>('SELECT id FROM app.google_connections WHERE business_id = $1', [
          businessId,
        ]);
        if (!conn.rows[0]) throw new AppError('google_not_connected', 'connect a Google account first');
        const id = randomUUID();
        const previous = await tx.query<{ id: string; location_name: string }>(
          'SELECT id, location_name FROM app.gbp_locations WHERE business_id = $1 FOR UPDATE',
          [businessId],
        );
        await recordIntegrationChange(tx, {
          businessId,
          actorUserId: actor.userId,
          action: 'gbp.location.attached',
          subjectId: id,
          details: {
            location_name: chosen.location_name,
            location_title: chosen.title.slice(0, 200),
            ...(previous.rows[0] ? { reason: 'replaced' } : {}),
          },
          ip: actor.ip,
          userAgent: actor.userAgent,
        });
        // Replacing the row (rather than editing it) keeps one rule: scheduled posts belong to
        // the location they were written for, and re-pointing them is a person's decision.
        if (previous.rows[0]) await tx.query('DELETE FROM app.gbp_locations WHERE id = $1', [previous.rows[0].id]);
        await tx.query(
          `INSERT INTO app.gbp_locations (id, business_id, connection_id, account_name, location_name, title, address,
                                          place_id, maps_uri, review_uri, attached_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            id,
            businessId,
            conn.rows[0].id,
            chosen.account_name,
            chosen.location_name,
            chosen.title.slice(0, 300),
            chosen.address,
            meta.placeId?.slice(0, 300) ?? null,
            meta.mapsUri?.slice(0, 2000) ?? null,
            chosen.review_uri?.slice(0, 2000) ?? null,
            actor.userId,
          ],
        );
        const r = await tx.query<AttachedLocation & { attached_at: Date }>(
          `SELECT id, account_name, location_name, title, address, place_id, maps_uri, review_uri, status,
                  attached_by, attached_at FROM app.gbp_locations WHERE id = $1`,
          [id],
        );
        return { ...r.rows[0]!, attached_at: r.rows[0]!.attached_at.toISOString() };
      });
    },

    /** Owner/admin: detach (audited); scheduled posts stop (0121's trigger). */
    async detach(actor: Actor, businessId: string): Promise<void> {
      await db.asService('gbp.locations.detach', async (tx) => {
        await assertCanManageIntegrations(tx, businessId, actor.userId);
        const r = await tx.query<{ id: string; location_name: string; title: string }>(
          'SELECT id, location_name, title FROM app.gbp_locations WHERE business_id = $1 FOR UPDATE',
          [businessId],
        );
        const row = r.rows[0];
        if (!row) throw new AppError('not_found', 'no Business Profile location is attached');
        await recordIntegrationChange(tx, {
          businessId,
          actorUserId: actor.userId,
          action: 'gbp.location.detached',
          subjectId: row.id,
          details: { location_name: row.location_name, location_title: row.title.slice(0, 200) },
          ip: actor.ip,
          userAgent: actor.userAgent,
        });
        await tx.query('DELETE FROM app.gbp_locations WHERE id = $1', [row.id]);
      });
    },
  };
}

export type GbpLocations = ReturnType<typeof createGbpLocations>;
