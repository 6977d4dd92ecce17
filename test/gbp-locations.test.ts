// Attaching a Business Profile location (migration 0120, docs/ARCHITECTURE.md §26) on the engine
// under test, against the loopback Business Profile fake: owners and admins list and attach,
// members only read, other businesses and outsiders get 404, the database refuses a change
// without an owner/admin audit row and any write by a request role, every change is in the
// hash-chained integration log, disconnecting Google detaches — and the scan probes the table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordIntegrationChange } from '../src/audit/integration-events.ts';
import { asOwner } from '../src/db/engine.ts';
import { scanEngine } from '../src/scan/index.ts';
import { parseMasterKey } from '../src/vault/master-key.ts';
import { createVault } from '../src/vault/secrets.ts';
import { BUSINESS_MANAGE, startGoogleBusinessFake, type GoogleBusinessFake } from './fakes/google-business.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { ENGINE } from './support/engine.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { connectGoogleFixture } from './support/google.ts';
import { request, type HttpResponse, type RequestOptions } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { probe } from './support/tenancy.ts';

const MASTER = Buffer.alloc(32, 9).toString('base64');
const vault = createVault(parseMasterKey(MASTER));
let s: TestServer;
let fake: GoogleBusinessFake;
let owner: SignedUpUser, admin: SignedUpUser, member: SignedUpUser, otherAdmin: SignedUpUser, outsider: SignedUpUser;
let bid: string;
let otherBid: string;
let place: ReturnType<GoogleBusinessFake['addAccountWithLocation']>;

const call = <T = any>(path: string, user: SignedUpUser, options: RequestOptions = {}): Promise<HttpResponse<T>> =>
  request<T>(`${s.url}${path}`, { ...options, token: user.accessToken });

beforeAll(async () => {
  fake = await startGoogleBusinessFake();
  s = await startTestServer({ GOOGLE_API_BASE: fake.url, CAPTO_MASTER_KEY: MASTER });
  const users = await Promise.all(Array.from({ length: 5 }, () => signUp(s, { verified: true })));
  [owner, admin, member, otherAdmin, outsider] = users as [
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
  ];
  bid = (await newBusiness(s.engine, owner.userId)).id;
  await addMember(s.engine, bid, admin.userId, 'admin');
  await addMember(s.engine, bid, member.userId, 'member');
  otherBid = (await newBusiness(s.engine, otherAdmin.userId)).id;
  place = fake.addAccountWithLocation();
  fake.addAccountWithLocation({ accountName: 'Other team', title: 'Uptown' });
  fake.grant('token-a');
  fake.grant('token-b', ['https://www.googleapis.com/auth/gmail.send']);
  await connectGoogleFixture(s.db, vault, {
    businessId: bid,
    actorUserId: owner.userId,
    email: 'office@lender.example',
    accessToken: 'token-a',
    scopes: ['openid', 'email', BUSINESS_MANAGE],
  });
  await connectGoogleFixture(s.db, vault, {
    businessId: otherBid,
    actorUserId: otherAdmin.userId,
    email: 'other@lender.example',
    accessToken: 'token-b',
    scopes: ['openid', 'email', 'https://www.googleapis.com/auth/gmail.send'],
  });
}, 300_000);
afterAll(async () => {
  await s?.stop();
  await fake?.close();
});

const base = () => `/api/businesses/${bid}/google`;

describe(`Business Profile location (${ENGINE})`, () => {
  it('members read the (empty) attachment but may not list or attach; outsiders get 404', async () => {
    expect((await call(`${base()}/location`, member)).json).toEqual({ location: null });
    expect((await call(`${base()}/locations`, member)).status).toBe(403);
    const put = await call(`${base()}/location`, member, {
      method: 'PUT',
      body: { account_name: place.account.name, location_name: place.location.name },
    });
    expect(put.status).toBe(403);
    for (const who of [outsider, otherAdmin]) {
      expect((await call(`${base()}/location`, who)).status).toBe(404);
      expect((await call(`${base()}/locations`, who)).status).toBe(404);
    }
    expect(fake.requests).toHaveLength(0); // nobody reached Google
  });

  it('a connection without business.manage asks for the scope (409 google_scope_missing)', async () => {
    const res = await call(`/api/businesses/${otherBid}/google/locations`, otherAdmin);
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('google_scope_missing');
  });

  it('an admin lists every location of every account the Google user manages', async () => {
    const res = await call(`${base()}/locations`, admin);
    expect(res.status).toBe(200);
    expect(res.json.items.map((l: any) => l.title)).toEqual(['Lakeside Lending — Downtown', 'Uptown']);
    expect(res.json.items[0]).toMatchObject({
      account_name: place.account.name,
      location_name: place.location.name,
      address: '100 N Lake St, Chicago, IL 60601',
      review_uri: place.location.metadata.newReviewUri,
    });
    expect(fake.requests.every((r) => r.token === 'token-a')).toBe(true);
  });

  it('an unknown location is 404 and malformed names are 400', async () => {
    const unknown = await call(`${base()}/location`, admin, {
      method: 'PUT',
      body: { account_name: place.account.name, location_name: 'locations/1' },
    });
    expect(unknown.status).toBe(404);
    const bad = await call(`${base()}/location`, admin, {
      method: 'PUT',
      body: { account_name: '../x', location_name: place.location.name },
    });
    expect(bad.status).toBe(400);
  });

  it('an admin attaches the location; members see it; the audit log records it', async () => {
    const res = await call(`${base()}/location`, admin, {
      method: 'PUT',
      body: { account_name: place.account.name, location_name: place.location.name },
    });
    expect(res.status).toBe(200);
    expect(res.json.location).toMatchObject({
      title: 'Lakeside Lending — Downtown',
      status: 'active',
      place_id: place.location.metadata.placeId,
      review_uri: place.location.metadata.newReviewUri,
      attached_by: admin.userId,
    });
    expect((await call(`${base()}/location`, member)).json.location.id).toBe(res.json.location.id);
    const audit = await call(`/api/businesses/${bid}/integrations/audit`, owner);
    expect(audit.json.items[0]).toMatchObject({
      action: 'gbp.location.attached',
      actor_email: admin.email,
      subject_id: res.json.location.id,
      details: { location_name: place.location.name, location_title: 'Lakeside Lending — Downtown' },
    });
    // Another business's admin sees nothing of it, through the API or the database.
    expect((await call(`/api/businesses/${otherBid}/google/location`, otherAdmin)).json).toEqual({ location: null });
    expect(await probe(s.db, otherAdmin.userId, 'SELECT 1 FROM app.gbp_locations')).toEqual({
      kind: 'rows',
      rowCount: 0,
    });
    expect(await probe(s.db, member.userId, 'SELECT 1 FROM app.gbp_locations')).toEqual({ kind: 'rows', rowCount: 1 });
  });

  it('no request role writes the table, whatever its role', async () => {
    for (const who of [owner, admin, member]) {
      expect(await probe(s.db, who.userId, `UPDATE app.gbp_locations SET status = 'active'`)).toMatchObject({
        kind: 'error',
        code: '42501',
      });
      expect(await probe(s.db, who.userId, 'DELETE FROM app.gbp_locations')).toMatchObject({
        kind: 'error',
        code: '42501',
      });
      expect(
        await probe(
          s.db,
          who.userId,
          `INSERT INTO app.gbp_locations (id, business_id, connection_id, account_name, location_name, title)
           SELECT gen_random_uuid(), business_id, id, 'accounts/1', 'locations/2', 'x' FROM app.google_connections`,
        ),
      ).toMatchObject({ kind: 'error', code: '42501' });
    }
  });

  it('the database refuses a service change without an owner/admin audit row of the same transaction', async () => {
    const attempt = (actor: string | null) =>
      s.db
        .asService('test.gbp', async (tx) => {
          if (actor)
            await recordIntegrationChange(tx, {
              businessId: bid,
              actorUserId: actor,
              action: 'gbp.location.detached',
              subjectId: null,
              details: {},
            });
          await tx.query('DELETE FROM app.gbp_locations WHERE business_id = $1', [bid]);
          throw new Error('rollback');
        })
        .then(
          () => 'committed',
          (e: { code?: string; message?: string }) => e.code ?? e.message,
        );
    // The database's 42501 reaches the service as AppError forbidden.
    expect(await attempt(null)).toMatch(/^(42501|forbidden)$/);
    expect(await attempt(member.userId)).toMatch(/^(42501|forbidden)$/);
    expect(await attempt(admin.userId)).toBe('rollback'); // allowed, then rolled back by the test
  });

  it('a member cannot detach; an admin detaches (audited) and re-attaches', async () => {
    expect((await call(`${base()}/location`, member, { method: 'DELETE' })).status).toBe(403);
    expect((await call(`/api/businesses/${otherBid}/google/location`, admin, { method: 'DELETE' })).status).toBe(404);
    expect((await call(`${base()}/location`, admin, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`${base()}/location`, member)).json).toEqual({ location: null });
    expect((await call(`${base()}/location`, admin, { method: 'DELETE' })).status).toBe(404);
    const again = await call(`${base()}/location`, owner, {
      method: 'PUT',
      body: { account_name: place.account.name, location_name: place.location.name },
    });
    expect(again.status).toBe(200);
    const audit = await call(`/api/businesses/${bid}/integrations/audit`, owner);
    expect(audit.json.items.slice(0, 3).map((e: any) => e.action)).toEqual([
      'gbp.location.attached',
      'gbp.location.detached',
      'gbp.location.attached',
    ]);
  });

  it('disconnecting Google detaches the location in the same transaction', async () => {
    expect((await call(`/api/businesses/${bid}/integrations/google`, owner, { method: 'DELETE' })).status).toBe(200);
    expect((await call(`${base()}/location`, member)).json).toEqual({ location: null });
    const n = await asOwner(s.engine, (c) => c.query('SELECT 1 FROM app.gbp_locations WHERE business_id = $1', [bid]));
    expect(n.rowCount).toBe(0);
    const res = await call(`${base()}/locations`, admin);
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('google_not_connected');
  });

  it('the scan probes the Business Profile tables: no leak, no table skipped, own rows seen', async () => {
    const report = await scanEngine(s.engine, { probe: true, probeOnly: (r) => r.name.startsWith('gbp_') });
    const rows = report.probe!.matrix.filter((m) => m.table.startsWith('app.gbp_'));
    expect(rows.map((m) => m.table).sort()).toEqual([
      'app.gbp_locations',
      'app.gbp_posts',
      'app.gbp_review_requests',
      'app.gbp_reviews',
    ]);
    expect(rows.filter((m) => Object.values(m.cells).includes('LEAK'))).toEqual([]);
    expect(rows.filter((m) => m.cells.own !== 'ok').map((m) => m.table)).toEqual([]);
    expect(
      report.findings
        .filter((f) => f.object.startsWith('app.gbp_') && (f.level === 'ERROR' || f.name.startsWith('probe_')))
        .map((f) => `${f.name} ${f.object}: ${f.reason}`),
    ).toEqual([]);
  });
});
