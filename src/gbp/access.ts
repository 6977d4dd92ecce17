// One Business Profile call on behalf of a business (docs/ARCHITECTURE.md §26): the access
// token comes from the Google connection (refreshed server-side, never leaving this process);
// a 401 forces one refresh and one more try; a refused refresh or a second 401 means the grant
// is gone — the location is marked `needs_reconnect` and the caller gets
// `google_reauth_required`, which nobody retries. A token without business.manage is
// `google_scope_missing`, whose body names the incremental-consent endpoint that adds the scope.
import type { Database, Tx } from '../db/index.ts';
import { BUSINESS_MANAGE_SCOPE, type GoogleConnection } from '../integrations/google/connection.ts';
import { AppError } from '../shared/errors.ts';
import { GbpApiError } from './client.ts';

export { BUSINESS_MANAGE_SCOPE };

/** 409 `google_scope_missing`, pointing at the endpoint that adds business.manage (owners/admins). */
export function scopeMissing(businessId: string): AppError {
  return new AppError(
    'google_scope_missing',
    'allow Capto to manage your Business Profile: an owner or admin adds Business Profile access to the Google connection',
    {
      details: {
        missing_scope: BUSINESS_MANAGE_SCOPE,
        add_scope: {
          method: 'POST',
          path: `/api/businesses/${businessId}/integrations/google/scopes`,
          body: { scopes: [BUSINESS_MANAGE_SCOPE] },
        },
      },
    },
  );
}

/** The business's connection must exist and carry business.manage (as the caller or the service). */
export async function assertBusinessScope(tx: Tx, businessId: string): Promise<void> {
  const r = await tx.query<{ scopes: string[] }>('SELECT scopes FROM app.google_connections WHERE business_id = $1', [
    businessId,
  ]);
  const row = r.rows[0];
  if (!row) throw new AppError('google_not_connected', 'connect a Google account first');
  if (!row.scopes.includes(BUSINESS_MANAGE_SCOPE)) throw scopeMissing(businessId);
}

export async function markNeedsReconnect(db: Database, businessId: string): Promise<void> {
  await db.asService('gbp.needs-reconnect', (tx) =>
    tx.query(`UPDATE app.gbp_locations SET status = 'needs_reconnect' WHERE business_id = $1 AND status = 'active'`, [
      businessId,
    ]),
  );
}

export function createGbpAccess(deps: { db: Database; google: Pick<GoogleConnection, 'accessToken'> }) {
  const { db, google } = deps;

  return {
    /** Run `fn` with a valid token; maps Google's auth and scope refusals to stable codes. */
    async withToken<T>(businessId: string, fn: (token: string) => Promise<T>): Promise<T> {
      const reauth = async (cause: unknown): Promise<never> => {
        await markNeedsReconnect(db, businessId);
        throw new AppError('google_reauth_required', 'Google no longer accepts this connection; connect again', {
          cause,
        });
      };
      let token: string;
      try {
        token = await google.accessToken(businessId);
      } catch (e) {
        if (e instanceof AppError && e.code === 'google_reauth_required') return reauth(e);
        throw e;
      }
      try {
        return await fn(token);
      } catch (e) {
        if (e instanceof GbpApiError && e.kind === 'scope') throw scopeMissing(businessId);
        if (!(e instanceof GbpApiError) || e.kind !== 'auth') throw e;
      }
      // 401 with a token we believed valid: refresh once (an early revocation or a clock skew).
      try {
        token = await google.accessToken(businessId, Number.MAX_SAFE_INTEGER / 1000);
      } catch (e) {
        if (e instanceof AppError && e.code === 'google_reauth_required') return reauth(e);
        throw e;
      }
      try {
        return await fn(token);
      } catch (e) {
        if (e instanceof GbpApiError && e.kind === 'auth') return reauth(e);
        if (e instanceof GbpApiError && e.kind === 'scope') throw scopeMissing(businessId);
        throw e;
      }
    },
  };
}

export type GbpAccess = ReturnType<typeof createGbpAccess>;

/** A Google failure as an HTTP answer for a request that called Google directly. */
export function asUpstream(e: unknown): never {
  if (e instanceof GbpApiError)
    throw new AppError(
      e.kind === 'permanent' && e.status === 404 ? 'not_found' : 'upstream_error',
      e.kind === 'permanent' ? `Google refused: ${e.message}` : 'Google is unavailable right now; try again shortly',
      { cause: e },
    );
  throw e;
}
