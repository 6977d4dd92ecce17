// Fresh rows per test (docs/ARCHITECTURE.md §4): tests never truncate, so they can
// share a database and run in parallel. Fixtures are written as capto_owner.
import { randomUUID } from 'node:crypto';
import type { Engine } from '../../src/db/index.ts';
import { asOwner } from '../../src/db/engine.ts';

export type MemberRole = 'owner' | 'admin' | 'member';

export async function newUser(
  engine: Engine,
  email = `user-${randomUUID().slice(0, 8)}@example.test`,
): Promise<{ id: string; email: string }> {
  const id = randomUUID();
  await asOwner(engine, (c) => c.query('INSERT INTO auth.users (id, email) VALUES ($1, $2)', [id, email]));
  return { id, email };
}

export async function newBusiness(
  engine: Engine,
  ownerId: string,
  name = `Business ${randomUUID().slice(0, 6)}`,
): Promise<{ id: string; name: string }> {
  const id = randomUUID();
  await asOwner(engine, async (c) => {
    await c.query('INSERT INTO app.businesses (id, name, created_by) VALUES ($1, $2, $3)', [id, name, ownerId]);
    await c.query(`INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'owner')`, [id, ownerId]);
  });
  return { id, name };
}

export async function addMember(engine: Engine, businessId: string, userId: string, role: MemberRole): Promise<void> {
  await asOwner(engine, (c) =>
    c.query('INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, $3)', [businessId, userId, role]),
  );
}

/** Two businesses, each with an owner, an admin and a member, plus an outsider. */
export async function twoBusinesses(engine: Engine) {
  const make = async (label: string) => {
    const owner = await newUser(engine);
    const admin = await newUser(engine);
    const member = await newUser(engine);
    const business = await newBusiness(engine, owner.id, `${label} ${randomUUID().slice(0, 6)}`);
    await addMember(engine, business.id, admin.id, 'admin');
    await addMember(engine, business.id, member.id, 'member');
    return { business, owner, admin, member };
  };
  const a = await make('Alpha');
  const b = await make('Beta');
  const outsider = await newUser(engine);
  return { a, b, outsider };
}
