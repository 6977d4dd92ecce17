// Custom fields over HTTP (docs/ARCHITECTURE.md §12): owners and admins
// define, members read and write values; values are typed and checked against the
// business's own definitions; a definition of business B is invisible and unusable in
// business A; the contact list filters on values; deleting a field strips its values.
// The database refuses what the service would (the trigger of migration 0070), tested
// as capto_authenticated directly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let owner: SignedUpUser;
let admin: SignedUpUser;
let member: SignedUpUser;
let ownerB: SignedUpUser;
let A: string;
let B: string;

const api = (bid: string, path = '') => `${server.url}/api/businesses/${bid}${path}`;

beforeAll(async () => {
  server = await startTestServer();
  const users = await Promise.all([1, 2, 3, 4].map(() => signUp(server, { verified: true })));
  [owner, admin, member, ownerB] = users as [SignedUpUser, SignedUpUser, SignedUpUser, SignedUpUser];
  A = (await newBusiness(server.engine, owner.userId, 'Alpha Lending')).id;
  B = (await newBusiness(server.engine, ownerB.userId, 'Beta Lending')).id;
  await addMember(server.engine, A, admin.userId, 'admin');
  await addMember(server.engine, A, member.userId, 'member');
});
afterAll(async () => server?.stop());

async function define(token: string, bid: string, body: Record<string, unknown>) {
  return request(api(bid, '/custom-fields'), { token, body });
}

describe('custom field definitions', () => {
  it('owners and admins define fields, members read them but cannot define, rename or delete', async () => {
    const tier = await define(owner.accessToken, A, {
      entity: 'contact',
      label: 'Credit tier',
      type: 'choice',
      options: ['A', 'B', 'C'],
    });
    expect(tier.status).toBe(201);
    expect(tier.json).toMatchObject({ key: 'credit_tier', type: 'choice', options: ['A', 'B', 'C'] });
    const score = await define(admin.accessToken, A, { entity: 'contact', label: 'Credit score', type: 'number' });
    expect(score.status).toBe(201);
    const byMember = await define(member.accessToken, A, { entity: 'contact', label: 'Nope', type: 'text' });
    expect([byMember.status, byMember.json.error.code]).toEqual([403, 'forbidden']);
    const list = await request(api(A, '/custom-fields'), { token: member.accessToken });
    expect(list.status).toBe(200);
    expect(list.json.items.map((f: { key: string }) => f.key)).toEqual(['credit_tier', 'credit_score']);
    const rename = await request(api(A, `/custom-fields/${score.json.id}`), {
      method: 'PATCH',
      token: member.accessToken,
      body: { label: 'x' },
    });
    expect(rename.status).toBe(403);
    const del = await request(api(A, `/custom-fields/${score.json.id}`), {
      method: 'DELETE',
      token: member.accessToken,
    });
    expect(del.status).toBe(403);
    const renamed = await request(api(A, `/custom-fields/${score.json.id}`), {
      method: 'PATCH',
      token: admin.accessToken,
      body: { label: 'FICO score' },
    });
    expect(renamed.json).toMatchObject({ label: 'FICO score', key: 'credit_score' });
  });

  it('refuses bad definitions with clear 4xx codes', async () => {
    const cases: [Record<string, unknown>, number][] = [
      [{ entity: 'contact', label: 'Tier', type: 'choice' }, 400],
      [{ entity: 'contact', label: 'Note', type: 'text', options: ['a'] }, 400],
      [{ entity: 'contact', label: 'Bad key', key: '9lives', type: 'text' }, 400],
      [{ entity: 'contact', label: 'Credit tier', type: 'text' }, 409],
      [{ entity: 'lead', label: 'X', type: 'text' }, 400],
      [{ entity: 'contact', label: 'X', type: 'text', business_id: B }, 400],
    ];
    for (const [body, status] of cases) {
      const r = await define(owner.accessToken, A, body);
      expect([JSON.stringify(body), r.status]).toEqual([JSON.stringify(body), status]);
    }
  });

  it("keeps each business's definitions to itself", async () => {
    const bField = await define(ownerB.accessToken, B, { entity: 'contact', label: 'Secret B', type: 'text' });
    expect(bField.status).toBe(201);
    // positive control: B's owner sees her field
    const bList = await request(api(B, '/custom-fields'), { token: ownerB.accessToken });
    expect(bList.json.items.map((f: { key: string }) => f.key)).toEqual(['secret_b']);
    for (const t of [owner, admin, member]) {
      expect((await request(api(B, '/custom-fields'), { token: t.accessToken })).status).toBe(404);
      const patch = await request(api(A, `/custom-fields/${bField.json.id}`), {
        method: 'PATCH',
        token: t.accessToken,
        body: { label: 'mine' },
      });
      expect(patch.status).toBe(t === member ? 403 : 404);
      const del = await request(api(A, `/custom-fields/${bField.json.id}`), { method: 'DELETE', token: t.accessToken });
      expect(del.status).toBe(t === member ? 403 : 404);
    }
    expect((await define(ownerB.accessToken, A, { entity: 'contact', label: 'X', type: 'text' })).status).toBe(404);
    // A's contact cannot carry B's key
    const c = await request(api(A, '/contacts'), {
      token: member.accessToken,
      body: { first_name: 'Zed', custom: { secret_b: 'x' } },
    });
    expect([c.status, c.json.error.code]).toEqual([400, 'validation_failed']);
    const still = await request(api(B, '/custom-fields'), { token: ownerB.accessToken });
    expect(still.json.items[0].label).toBe('Secret B');
  });
});

describe('custom values on contacts and deals', () => {
  it('a member sets typed values, they are checked, merged and filterable', async () => {
    await define(owner.accessToken, A, { entity: 'contact', label: 'Pre-approved', type: 'checkbox' });
    await define(owner.accessToken, A, { entity: 'contact', label: 'Birthday', type: 'date' });
    await define(owner.accessToken, A, { entity: 'contact', label: 'Budget', type: 'money' });
    await define(owner.accessToken, A, { entity: 'contact', label: 'Employer', type: 'text' });
    const mk = async (name: string, custom: Record<string, unknown>) => {
      const r = await request(api(A, '/contacts'), { token: member.accessToken, body: { first_name: name, custom } });
      expect([name, r.status]).toEqual([name, 201]);
      return r.json as { id: string; custom: Record<string, unknown> };
    };
    const ann = await mk('Ann', {
      credit_tier: 'A',
      credit_score: 742,
      pre_approved: true,
      birthday: '1980-02-29',
      budget: 61250000,
      employer: 'Acme Corp',
    });
    expect(ann.custom).toEqual({
      credit_tier: 'A',
      credit_score: 742,
      pre_approved: true,
      birthday: '1980-02-29',
      budget: 61250000,
      employer: 'Acme Corp',
    });
    await mk('Bob', { credit_tier: 'B', pre_approved: false });
    await mk('Cy', { credit_tier: 'A' });

    const bad: [Record<string, unknown>, string][] = [
      [{ credit_tier: 'Z' }, 'Credit tier must be one of "A", "B", "C"'],
      [{ credit_score: '700' }, 'FICO score must be a number'],
      [{ pre_approved: 'yes' }, 'Pre-approved must be checked or unchecked (true or false)'],
      [{ birthday: '2026-02-30' }, 'Birthday must be a date (YYYY-MM-DD)'],
      [{ budget: 10.5 }, 'Budget must be an amount in whole cents'],
      [{ nope: 1 }, 'There is no custom field "nope"'],
    ];
    for (const [custom, message] of bad) {
      const r = await request(api(A, `/contacts/${ann.id}`), {
        method: 'PATCH',
        token: member.accessToken,
        body: { custom },
      });
      expect([r.status, r.json.error.code, r.json.error.message]).toEqual([400, 'validation_failed', message]);
    }
    // merge: one key changes, null removes one, the rest stay
    const patched = await request(api(A, `/contacts/${ann.id}`), {
      method: 'PATCH',
      token: member.accessToken,
      body: { custom: { credit_score: 760, employer: null } },
    });
    expect(patched.json.custom).toEqual({
      credit_tier: 'A',
      credit_score: 760,
      pre_approved: true,
      birthday: '1980-02-29',
      budget: 61250000,
    });
    const names = async (q: string) =>
      (await request(api(A, `/contacts?${q}`), { token: member.accessToken })).json.items
        .map((c: { first_name: string }) => c.first_name)
        .sort();
    expect(await names('custom=credit_tier:A')).toEqual(['Ann', 'Cy']);
    expect(await names('custom=credit_tier:A&custom=pre_approved:true')).toEqual(['Ann']);
    expect(await names('custom=pre_approved:false')).toEqual(['Bob', 'Cy']);
    expect(await names('custom=credit_score:760')).toEqual(['Ann']);
    const unknown = await request(api(A, '/contacts?custom=secret_b:x'), { token: member.accessToken });
    expect(unknown.status).toBe(400);
    const malformed = await request(api(A, '/contacts?custom=nocolon'), { token: member.accessToken });
    expect(malformed.status).toBe(400);
  });

  it('deals carry their own fields', async () => {
    await define(admin.accessToken, A, { entity: 'deal', label: 'Lender', type: 'text' });
    const d = await request(api(A, '/deals'), {
      token: member.accessToken,
      body: { title: 'Ann purchase', custom: { lender: 'First Bank' } },
    });
    expect([d.status, d.json.custom]).toEqual([201, { lender: 'First Bank' }]);
    const wrong = await request(api(A, '/deals'), {
      token: member.accessToken,
      body: { title: 'x', custom: { credit_tier: 'A' } },
    });
    expect(wrong.status).toBe(400);
    const u = await request(api(A, `/deals/${d.json.id}`), {
      method: 'PATCH',
      token: member.accessToken,
      body: { custom: { lender: 'Second Bank' } },
    });
    expect(u.json.custom).toEqual({ lender: 'Second Bank' });
  });

  it('removing an option in use is refused; deleting a field strips its values', async () => {
    const fields = (await request(api(A, '/custom-fields?entity=contact'), { token: owner.accessToken })).json.items;
    const tier = fields.find((f: { key: string }) => f.key === 'credit_tier');
    const shrink = await request(api(A, `/custom-fields/${tier.id}`), {
      method: 'PATCH',
      token: owner.accessToken,
      body: { options: ['B', 'C'] },
    });
    expect([shrink.status, shrink.json.error.code]).toEqual([409, 'conflict']);
    const grow = await request(api(A, `/custom-fields/${tier.id}`), {
      method: 'PATCH',
      token: owner.accessToken,
      body: { options: ['A', 'B', 'C', 'D'] },
    });
    expect(grow.json.options).toEqual(['A', 'B', 'C', 'D']);
    const del = await request(api(A, `/custom-fields/${tier.id}`), { method: 'DELETE', token: admin.accessToken });
    expect(del.status).toBe(204);
    const rows = await asOwner(server.engine, (c) =>
      c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM app.contacts WHERE business_id = $1 AND custom ? 'credit_tier'`,
        [A],
      ),
    );
    expect(rows.rows[0]!.n).toBe(0);
    const others = await asOwner(server.engine, (c) =>
      c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM app.contacts WHERE business_id = $1 AND custom ? 'credit_score'`,
        [A],
      ),
    );
    expect(others.rows[0]!.n).toBe(1);
  });
});

describe('the database checks values against the definitions (trigger, RLS)', () => {
  it('refuses unknown keys and wrong types from capto_authenticated, accepts valid ones', async () => {
    const as = (sql: string, params: unknown[]) =>
      server.db.asUser({ sub: member.userId, sid: member.sessionId }, (tx) => tx.query(sql, params));
    const ok = await as(
      `INSERT INTO app.contacts (business_id, first_name, custom) VALUES ($1, 'Direct', '{"credit_score": 701}') RETURNING custom`,
      [A],
    );
    expect(ok.rows[0]).toEqual({ custom: { credit_score: 701 } });
    await expect(
      as(`INSERT INTO app.contacts (business_id, first_name, custom) VALUES ($1, 'Direct2', '{"secret_b": "x"}')`, [A]),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(
      as(`INSERT INTO app.contacts (business_id, first_name, custom) VALUES ($1, 'Direct3', '{"credit_score": "x"}')`, [
        A,
      ]),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    // a member cannot define fields even in SQL; B's definitions are invisible
    await expect(
      as(
        `INSERT INTO app.custom_fields (business_id, entity, key, label, type, created_by) VALUES ($1, 'contact', 'k', 'K', 'text', $2)`,
        [A, member.userId],
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
    const seen = await as('SELECT key FROM app.custom_fields WHERE business_id = $1', [B]);
    expect(seen.rows).toEqual([]);
    const own = await as('SELECT count(*)::int AS n FROM app.custom_fields WHERE business_id = $1', [A]);
    expect((own.rows[0] as { n: number }).n).toBeGreaterThan(0);
  });
});
