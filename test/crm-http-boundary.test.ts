// Every CRM endpoint tried across the business boundary over real HTTPS, with signed-in
// owner/admin/member personas of business A, the owner of business B and an outsider:
// a foreign business or a foreign id is always 404 (never data, never a hint), and
// the positive controls (A's people on A's rows) pass, so no case can pass on emptiness.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { signUp } from './support/auth.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

interface World {
  bid: string;
  contact: string;
  list: string;
  deal: string;
  note: string;
  task: string;
  conversation: string;
}
interface Endpoint {
  method: string;
  path: (w: World) => string;
  body?: (w: World) => unknown;
  destructive?: boolean;
  usesIds: boolean;
}

// An endpoint "uses ids" when its path names a row, not only the business.
const EP = (method: string, path: (w: World) => string, extra: Partial<Endpoint> = {}): Endpoint => ({
  method,
  path,
  usesIds: /w\.(contact|list|deal|note|task|conversation)\b/.test(path.toString()),
  ...extra,
});

const b = (w: World) => `/api/businesses/${w.bid}`;
const ENDPOINTS: Endpoint[] = [
  EP('GET', (w) => `${b(w)}/contacts`),
  EP('GET', (w) => `${b(w)}/contacts?q=ann`),
  EP('POST', (w) => `${b(w)}/contacts`, { body: () => ({ first_name: 'Boundary' }), destructive: true }),
  EP('GET', (w) => `${b(w)}/contacts/${w.contact}`),
  EP('PATCH', (w) => `${b(w)}/contacts/${w.contact}`, { body: () => ({ notes: 'touched' }) }),
  EP('GET', (w) => `${b(w)}/contacts/${w.contact}/lists`),
  EP('GET', (w) => `${b(w)}/contacts/${w.contact}/timeline`),
  EP('GET', (w) => `${b(w)}/contacts/${w.contact}/notes`),
  EP('POST', (w) => `${b(w)}/contacts/${w.contact}/notes`, { body: () => ({ body: 'a note' }) }),
  EP('DELETE', (w) => `${b(w)}/contacts/${w.contact}`, { destructive: true }),
  EP('POST', (w) => `${b(w)}/contacts/${w.contact}/restore`, { destructive: true }),
  EP('DELETE', (w) => `${b(w)}/contacts/${w.contact}/permanent`, { destructive: true }),
  EP('GET', (w) => `${b(w)}/lists`),
  EP('POST', (w) => `${b(w)}/lists`, { body: () => ({ name: `L ${Math.random()}` }), destructive: true }),
  EP('GET', (w) => `${b(w)}/lists/${w.list}`),
  EP('PATCH', (w) => `${b(w)}/lists/${w.list}`, { body: () => ({ color: '#112233' }) }),
  EP('GET', (w) => `${b(w)}/lists/${w.list}/members`),
  EP('POST', (w) => `${b(w)}/lists/${w.list}/members`, { body: (w) => ({ contact_ids: [w.contact] }) }),
  EP('DELETE', (w) => `${b(w)}/lists/${w.list}/members`, {
    body: (w) => ({ contact_ids: [w.contact] }),
    destructive: true,
  }),
  EP('DELETE', (w) => `${b(w)}/lists/${w.list}`, { destructive: true }),
  EP('GET', (w) => `${b(w)}/deals`),
  EP('POST', (w) => `${b(w)}/deals`, { body: () => ({ title: 'Boundary deal' }), destructive: true }),
  EP('GET', (w) => `${b(w)}/deals/${w.deal}`),
  EP('PATCH', (w) => `${b(w)}/deals/${w.deal}`, { body: () => ({ amount_cents: 100 }) }),
  EP('POST', (w) => `${b(w)}/deals/${w.deal}/move`, { body: () => ({ stage: 'processing', position: 0 }) }),
  EP('GET', (w) => `${b(w)}/deals/${w.deal}/stage-changes`),
  EP('GET', (w) => `${b(w)}/deals/${w.deal}/notes`),
  EP('POST', (w) => `${b(w)}/deals/${w.deal}/notes`, { body: () => ({ body: 'deal note' }) }),
  EP('DELETE', (w) => `${b(w)}/deals/${w.deal}`, { destructive: true }),
  EP('PATCH', (w) => `${b(w)}/notes/${w.note}`, { body: () => ({ body: 'edited' }) }),
  EP('DELETE', (w) => `${b(w)}/notes/${w.note}`, { destructive: true }),
  EP('GET', (w) => `${b(w)}/tasks?assignee=me&done=false`),
  EP('POST', (w) => `${b(w)}/tasks`, { body: () => ({ title: 'Call back' }), destructive: true }),
  EP('GET', (w) => `${b(w)}/tasks/${w.task}`),
  EP('PATCH', (w) => `${b(w)}/tasks/${w.task}`, { body: () => ({ done: true }) }),
  EP('DELETE', (w) => `${b(w)}/tasks/${w.task}`, { destructive: true }),
  EP('GET', (w) => `${b(w)}/conversations`),
  EP('GET', (w) => `${b(w)}/conversations/${w.conversation}`),
  EP('GET', (w) => `${b(w)}/conversations/${w.conversation}/messages`),
  EP('POST', (w) => `${b(w)}/conversations/${w.conversation}/read`),
  EP('GET', (w) => `${b(w)}/search?q=ann`),
];

let server: TestServer;
const tokens: Record<'ownerA' | 'adminA' | 'memberA' | 'ownerB' | 'outsider', string> = {} as never;
let A: World;
let B: World;

async function call(token: string, ep: Endpoint, w: World, ids?: World) {
  const target = ids ? { ...ids, bid: w.bid } : w;
  return request(`${server.url}${ep.path(target)}`, { method: ep.method, token, body: ep.body?.(target) });
}

async function seed(ownerToken: string, ownerId: string, label: string): Promise<World> {
  const bid = (await newBusiness(server.engine, ownerId, `${label} Lending`)).id;
  const post = async (path: string, body: unknown) => {
    const r = await request(`${server.url}/api/businesses/${bid}${path}`, { token: ownerToken, body });
    if (r.status !== 201) throw new Error(`${path}: ${r.status} ${r.text}`);
    return (r.json as { id: string }).id;
  };
  const contact = await post('/contacts', {
    first_name: 'Ann',
    last_name: label,
    email: `ann@${label.toLowerCase()}.test`,
  });
  const list = await post('/lists', { name: 'Hot Leads' });
  const deal = await post('/deals', { title: `${label} refi`, contact_id: contact });
  const note = await post(`/contacts/${contact}/notes`, { body: 'first call went well' });
  const task = await post('/tasks', { title: 'Send the rate sheet', contact_id: contact });
  const conversation = await asOwner(server.engine, async (c) => {
    const v = await c.query<{ id: string }>(
      `INSERT INTO app.conversations (business_id, contact_id, our_number, unread_count, last_message_at) VALUES ($1, $2, '+14155550100', 1, now()) RETURNING id`,
      [bid, contact],
    );
    await c.query(
      `INSERT INTO app.messages (business_id, conversation_id, direction, body, status) VALUES ($1, $2, 'inbound', 'Hi Ann here', 'received')`,
      [bid, v.rows[0]!.id],
    );
    return v.rows[0]!.id;
  });
  return { bid, contact, list, deal, note, task, conversation };
}

beforeAll(async () => {
  server = await startTestServer();
  const [ownerA, adminA, memberA, ownerB, outsider] = await Promise.all(
    [1, 2, 3, 4, 5].map(() => signUp(server, { verified: true })),
  );
  Object.assign(tokens, {
    ownerA: ownerA!.accessToken,
    adminA: adminA!.accessToken,
    memberA: memberA!.accessToken,
    ownerB: ownerB!.accessToken,
    outsider: outsider!.accessToken,
  });
  A = await seed(ownerA!.accessToken, ownerA!.userId, 'Alpha');
  B = await seed(ownerB!.accessToken, ownerB!.userId, 'Beta');
  await addMember(server.engine, A.bid, adminA!.userId, 'admin');
  await addMember(server.engine, A.bid, memberA!.userId, 'member');
});
afterAll(async () => server?.stop());

/** Every row B owns, as the database sees it: proof that nothing foreign changed. */
async function snapshotB() {
  return asOwner(server.engine, async (c) => {
    const out: Record<string, unknown[]> = {};
    for (const t of ['contacts', 'lists', 'list_members', 'deals', 'notes', 'tasks', 'conversations', 'messages']) {
      out[t] = (await c.query(`SELECT * FROM app.${t} WHERE business_id = $1 ORDER BY 1::text`, [B.bid])).rows;
    }
    return out;
  });
}

describe('CRM endpoints across the business boundary', () => {
  it("answers every endpoint of B with 404 to A's owner, admin and member and to an outsider, changing nothing", async () => {
    const before = await snapshotB();
    for (const who of ['ownerA', 'adminA', 'memberA', 'outsider'] as const) {
      for (const ep of ENDPOINTS) {
        const r = await call(tokens[who], ep, B);
        expect([who, ep.method, ep.path(B), r.status, r.json?.error?.code]).toEqual([
          who,
          ep.method,
          ep.path(B),
          404,
          'not_found',
        ]);
      }
    }
    expect(await snapshotB()).toEqual(before);
  });

  it("answers B's ids under A's business with 404 for A's own people, changing nothing", async () => {
    const before = await snapshotB();
    for (const who of ['ownerA', 'adminA', 'memberA'] as const) {
      for (const ep of ENDPOINTS.filter((e) => e.usesIds)) {
        const r = await call(tokens[who], ep, A, B);
        expect([who, ep.method, ep.path({ ...B, bid: A.bid }), r.status]).toEqual([
          who,
          ep.method,
          ep.path({ ...B, bid: A.bid }),
          404,
        ]);
      }
    }
    expect(await snapshotB()).toEqual(before);
  });

  it("serves A's people their own rows (positive control) and B's owner hers", async () => {
    for (const who of ['ownerA', 'adminA', 'memberA'] as const) {
      for (const ep of ENDPOINTS.filter((e) => !e.destructive && e.method === 'GET')) {
        const r = await call(tokens[who], ep, A);
        expect([who, ep.path(A), r.status]).toEqual([who, ep.path(A), 200]);
      }
    }
    const contact = await request(`${server.url}/api/businesses/${B.bid}/contacts/${B.contact}`, {
      token: tokens.ownerB,
    });
    expect(contact.json).toMatchObject({ id: B.contact, last_name: 'Beta' });
    const list = await request(`${server.url}/api/businesses/${A.bid}/contacts`, { token: tokens.memberA });
    expect(list.json.items.map((c: { id: string }) => c.id)).toEqual([A.contact]);
  });

  it("lets A's member perform every non-destructive write on A's rows", async () => {
    for (const ep of ENDPOINTS.filter((e) => !e.destructive && e.method !== 'GET')) {
      const r = await call(tokens.memberA, ep, A);
      // notes are edited by their author only (A's owner wrote the seeded one)
      const expected = ep.path(A).includes('/notes/')
        ? 403
        : ep.method === 'POST' && ep.path(A).endsWith('/notes')
          ? 201
          : 200;
      expect([ep.method, ep.path(A), r.status]).toEqual([ep.method, ep.path(A), expected]);
    }
  });

  it('refuses every endpoint without a token (401) and with a malformed business id (400)', async () => {
    for (const ep of ENDPOINTS) {
      const r = await request(`${server.url}${ep.path(A)}`, { method: ep.method, body: ep.body?.(A) });
      expect([ep.path(A), r.status]).toEqual([ep.path(A), 401]);
    }
    const bad = await request(`${server.url}/api/businesses/not-a-uuid/contacts`, { token: tokens.ownerA });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('validation_failed');
  });
});
