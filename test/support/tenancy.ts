// Helpers for the workspace tests: verified users, invitation rows with a known token,
// and `probe`, which runs one statement as a user in a transaction that is always
// rolled back, so an allowed action can be proven without changing the fixture.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Database, Engine } from '../../src/db/index.ts';
import { asOwner } from '../../src/db/engine.ts';

export async function verifyEmail(engine: Engine, userId: string): Promise<void> {
  await asOwner(engine, (c) => c.query('UPDATE auth.users SET email_verified_at = now() WHERE id = $1', [userId]));
}

export const sha256 = (token: string): Buffer => createHash('sha256').update(token).digest();

/** An open invitation written as capto_owner; returns its id and the plaintext token. */
export async function newInvitation(
  engine: Engine,
  businessId: string,
  email: string,
  role: 'owner' | 'admin' | 'member' = 'member',
): Promise<{ id: string; token: string }> {
  const id = randomUUID();
  const token = randomBytes(32).toString('base64url');
  await asOwner(engine, (c) =>
    c.query('INSERT INTO app.invitations (id, business_id, email, role, token_hash) VALUES ($1, $2, $3, $4, $5)', [
      id,
      businessId,
      email,
      role,
      sha256(token),
    ]),
  );
  return { id, token };
}

export type Outcome =
  { kind: 'rows'; rowCount: number } | { kind: 'error'; code: string; hint?: string; message: string };

class Rollback extends Error {}

/** Run `sql` as `sub` and report what happened; the transaction is always rolled back. */
export async function probe(db: Database, sub: string, sql: string, params: unknown[] = []): Promise<Outcome> {
  let outcome: Outcome | undefined;
  try {
    await db.asUser({ sub }, async (tx) => {
      try {
        const r = await tx.query(sql, params);
        outcome = { kind: 'rows', rowCount: r.rowCount };
      } catch (e) {
        const err = e as { code?: string; hint?: string; message?: string };
        outcome = { kind: 'error', code: err.code ?? '?', hint: err.hint, message: err.message ?? '' };
      }
      throw new Rollback();
    });
  } catch (e) {
    if (!(e instanceof Rollback)) throw e;
  }
  return outcome!;
}

/** Shorthand for expectations: 'ok' (≥1 row), 'none' (0 rows, RLS filtered), 'denied' (42501), or a P0001 hint. */
export function summarise(o: Outcome): string {
  if (o.kind === 'rows') return o.rowCount > 0 ? 'ok' : 'none';
  if (o.code === '42501') return 'denied';
  if (o.code === 'P0001' && o.hint) return o.hint;
  return `error ${o.code}: ${o.message}`;
}
