// The business's AI settings: the on/off switch, the "about us / FAQ" text the model
// may use, and the monthly token budget — columns of app.businesses, read by any
// member and written by owners/admins (0001's UPDATE policy; the route answers 403
// first so a member gets a clear refusal rather than "nothing changed").
import type { Tx } from '../db/index.ts';
import { forbidden, notFound } from '../shared/errors.ts';

export interface AiSettings {
  enabled: boolean;
  about: string;
  monthly_token_budget: number;
}

export async function getAiSettings(tx: Tx, businessId: string): Promise<AiSettings> {
  const r = await tx.query<{ enabled: boolean; about: string; budget: string }>(
    `SELECT ai_enabled AS enabled, ai_about AS about, ai_monthly_token_budget::text AS budget
       FROM app.businesses WHERE id = $1`,
    [businessId],
  );
  const row = r.rows[0];
  if (!row) throw notFound('business');
  return { enabled: row.enabled, about: row.about, monthly_token_budget: Number(row.budget) };
}

export async function updateAiSettings(
  tx: Tx,
  businessId: string,
  patch: { enabled?: boolean; about?: string; monthly_token_budget?: number },
): Promise<AiSettings> {
  const admin = await tx.query<{ ok: boolean }>(`SELECT app.has_role($1, 'admin') AS ok`, [businessId]);
  if (admin.rows[0]?.ok !== true) throw forbidden('only owners and admins can change the AI settings');
  await tx.query(
    `UPDATE app.businesses
        SET ai_enabled = coalesce($2, ai_enabled), ai_about = coalesce($3, ai_about),
            ai_monthly_token_budget = coalesce($4, ai_monthly_token_budget)
      WHERE id = $1`,
    [businessId, patch.enabled ?? null, patch.about ?? null, patch.monthly_token_budget ?? null],
  );
  return getAiSettings(tx, businessId);
}
