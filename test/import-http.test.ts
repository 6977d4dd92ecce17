// CSV import and export over HTTPS with signed-in users (both engines): malformed
// uploads are clear 4xx with nothing written, the happy path end to end, the business
// boundary for every route, and the export's role gate and formula guard.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { ENGINE } from './support/engine.ts';
import { addMember, newBusiness } from './support/factories.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let ownerA: SignedUpUser,
  adminA: SignedUpUser,
  memberA: SignedUpUser,
  ownerB: SignedUpUser,
  memberB: SignedUpUser,
  outsider: SignedUpUser;
let bidA: string, bidB: string;

beforeAll(async () => {
  server = await startTestServer();
  const users = await Promise.all(Array.from({ length: 6 }, () => signUp(server, { verified: true })));
  [ownerA, adminA, memberA, ownerB, memberB, outsider] = users as [
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
    SignedUpUser,
  ];
  bidA = (await newBusiness(server.engine, ownerA.userId)).id;
  bidB = (await newBusiness(server.engine, ownerB.userId)).id;
  await addMember(server.engine, bidA, adminA.userId, 'admin');
  await addMember(server.engine, bidA, memberA.userId, 'member');
  await addMember(server.engine, bidB, memberB.userId, 'member');
}, 120_000);
afterAll(async () => server?.stop());

const url = (bid: string, path = '') => `${server.url}/api/businesses/${bid}/contacts${path}`;
const uploadCsv = (bid: string, body: string | Buffer, token?: string, type = 'text/csv') =>
  request(url(bid, '/import?filename=leads.csv'), {
    method: 'POST',
    raw: body,
    headers: { 'content-type': type },
    token,
  });

async function written(bid: string) {
  return asOwner(server.engine, async (c) => ({
    jobs: (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.import_jobs WHERE business_id = $1', [bid]))
      .rows[0]!.n,
    staged: (
      await c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.import_rows WHERE business_id = $1', [bid])
    ).rows[0]!.n,
    contacts: (
      await c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.contacts WHERE business_id = $1', [bid])
    ).rows[0]!.n,
  }));
}

async function waitFor(bid: string, jobId: string, token: string) {
  for (let i = 0; i < 600; i++) {
    const r = await request(url(bid, `/import/${jobId}`), { token });
    if (r.json.status === 'completed' || r.json.status === 'failed') return r.json;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('import did not finish');
}

describe(`malformed uploads (${ENGINE})`, () => {
  it('bad quoting, wrong encoding, no rows, 100,000 + 1 rows, wrong content type: clear 4xx, nothing written', async () => {
    const before = await written(bidA);
    const cases: [string | Buffer, number, string, RegExp][] = [
      ['first_name,email\nAda,"ada@example.test\nBob,bob@example.test\n', 400, 'invalid_csv', /never closed/],
      ['first_name,email\nAda,ada@example.test\nB"ob,bob@example.test\n', 400, 'invalid_csv', /line 3/],
      [
        Buffer.concat([Buffer.from('first_name\nAda\nJ'), Buffer.from([0xf6]), Buffer.from('rg\n')]),
        400,
        'invalid_csv',
        /UTF-8.*line 3/,
      ],
      ['first_name,email\n', 400, 'invalid_csv', /no data rows/],
      ['', 400, 'invalid_csv', /empty/],
      [
        `email\n${Array.from({ length: 100_001 }, (_, i) => `u${i}@example.test`).join('\n')}\n`,
        413,
        'import_too_large',
        /100,000 rows/,
      ],
    ];
    for (const [body, status, code, message] of cases) {
      const r = await uploadCsv(bidA, body, ownerA.accessToken);
      expect({ status: r.status, code: r.json?.error?.code }).toEqual({ status, code });
      expect(r.json.error.message).toMatch(message);
      expect(r.text).not.toMatch(/stack|at .*\.ts/);
    }
    const json = await request(url(bidA, '/import'), {
      method: 'POST',
      body: { csv: 'a,b' },
      token: ownerA.accessToken,
    });
    expect(json.status).toBe(415);
    expect(await written(bidA)).toEqual(before);
  }, 120_000);
});

describe(`upload → mapping → preview → start → progress → report (${ENGINE})`, () => {
  it('runs a small import end to end', async () => {
    const csv = [
      'Name,E-mail Address,Cell,Status,Comments,SSN',
      'Jane Doe,jane@example.test,(415) 555-0101,Hot Lead,"=HYPERLINK(""http://evil.test"")",111-22-3333',
      '"Doe, John",john@example.test,,Past Client,,222-33-4444',
      'Bad Phone,bp@example.test,12,lead,,333-44-5555',
      'Jane Again,JANE@example.test,,lead,,',
      '@SUM(A1),sum@example.test,,VIP,,',
    ].join('\r\n');
    const up = await uploadCsv(bidA, csv, ownerA.accessToken);
    expect(up.status).toBe(201);
    expect(up.json).toMatchObject({
      filename: 'leads.csv',
      status: 'uploaded',
      total_rows: 5,
      rows_done: 0,
      progress: 0,
      mapping: { full_name: 0, email: 1, mobile: 2, status: 3, notes: 4 },
    });
    expect(up.json.mapping).not.toHaveProperty('5'); // the SSN column stays unmapped
    const id = up.json.id as string;

    const patched = await request(url(bidA, `/import/${id}`), {
      method: 'PATCH',
      body: { dedupe_mode: 'skip', mapping: { ...up.json.mapping, status: 3 } },
      token: ownerA.accessToken,
    });
    expect(patched.status).toBe(200);
    const badMapping = await request(url(bidA, `/import/${id}`), {
      method: 'PATCH',
      body: { mapping: { email: 42 } },
      token: ownerA.accessToken,
    });
    expect(badMapping.json.error.code).toBe('validation_failed');

    const preview = await request(url(bidA, `/import/${id}/preview?limit=10`), { token: ownerA.accessToken });
    expect(preview.status).toBe(200);
    expect(preview.json.rows.map((r: { action: string }) => r.action)).toEqual([
      'create',
      'create',
      'fail',
      'skip',
      'fail',
    ]);
    expect(preview.json.rows[1].values).toMatchObject({ first_name: 'John', last_name: 'Doe', status: 'past_client' });

    const started = await request(url(bidA, `/import/${id}/start`), {
      method: 'POST',
      body: {},
      token: ownerA.accessToken,
    });
    expect(started.status).toBe(202);
    expect(started.json.status).toBe('running');
    const done = await waitFor(bidA, id, ownerA.accessToken);
    expect(done).toMatchObject({
      status: 'completed',
      rows_done: 5,
      progress: 1,
      counts: { created: 2, updated: 0, skipped: 1, failed: 2 },
    });

    const again = await request(url(bidA, `/import/${id}/start`), {
      method: 'POST',
      body: {},
      token: ownerA.accessToken,
    });
    expect(again.json.error.code).toBe('conflict');

    const report = await request(url(bidA, `/import/${id}/errors.csv`), { token: ownerA.accessToken });
    expect(report.status).toBe(200);
    expect(report.headers['content-type']).toMatch(/^text\/csv/);
    expect(report.headers['content-disposition']).toBe('attachment; filename="leads-errors.csv"');
    const lines = report.text
      .replace(/^\uFEFF/, '')
      .trimEnd()
      .split('\r\n');
    expect(lines[0]).toBe('"row","line","column","code","message","Name","E-mail Address","Cell","Status","Comments"');
    expect(lines[1]).toContain('"bp@example.test","12","lead",""');
    expect(report.text).not.toContain('333-44-5555'); // the unmapped SSN column never leaves the staged file
    expect(lines.slice(1).map((l) => l.split('","')[3])).toEqual([
      'invalid_phone',
      'duplicate_in_file',
      'invalid_status',
    ]);
    expect(lines[3]).toContain(`"'@SUM(A1)"`);

    // the admin sees the job and its report; a plain member does not see the owner's job
    expect((await request(url(bidA, `/import/${id}`), { token: adminA.accessToken })).status).toBe(200);
    expect((await request(url(bidA, `/import/${id}/errors.csv`), { token: adminA.accessToken })).status).toBe(200);
    expect((await request(url(bidA, `/import/${id}`), { token: memberA.accessToken })).status).toBe(404);
    const listed = await request(url(bidA, '/import'), { token: ownerA.accessToken });
    expect(listed.json.jobs.map((j: { id: string }) => j.id)).toContain(id);

    // across the boundary: B's people get 404 for A's job through either business
    for (const who of [ownerB, memberB, outsider]) {
      for (const bid of [bidA, bidB]) {
        for (const path of [`/import/${id}`, `/import/${id}/preview`, `/import/${id}/errors.csv`]) {
          expect((await request(url(bid, path), { token: who.accessToken })).status).toBe(404);
        }
        expect(
          (await request(url(bid, `/import/${id}/start`), { method: 'POST', body: {}, token: who.accessToken })).status,
        ).toBe(404);
        expect(
          (await request(url(bid, `/import/${id}`), { method: 'PATCH', body: {}, token: who.accessToken })).status,
        ).toBe(404);
      }
    }
    expect((await request(url(bidA, `/import/${id}`))).status).toBe(401);
  }, 120_000);

  it('members of B cannot import into A (404, nothing written); a member of A can', async () => {
    const before = await written(bidA);
    for (const who of [ownerB, memberB, outsider]) {
      const r = await uploadCsv(bidA, 'email\nx@example.test\n', who.accessToken);
      expect(r.status).toBe(404);
      expect(r.json.error.code).toBe('not_found');
    }
    expect((await uploadCsv(bidA, 'email\nx@example.test\n')).status).toBe(401);
    expect(await written(bidA)).toEqual(before);
    const own = await uploadCsv(
      bidA,
      'email\nmember-import@example.test\n',
      memberA.accessToken,
      'text/csv; charset=utf-8',
    );
    expect(own.status).toBe(201);
    // Excel on Windows labels .csv files this way
    expect(
      (await uploadCsv(bidA, 'email\nxl@example.test\n', memberA.accessToken, 'application/vnd.ms-excel')).status,
    ).toBe(201);
  });
});

describe(`deleting an import job (${ENGINE})`, () => {
  it('its uploader and admins delete it with its staged and error rows; other people get 404; a running job is 409; the contacts stay', async () => {
    const memberA2 = await signUp(server, { verified: true });
    await addMember(server.engine, bidA, memberA2.userId, 'member');
    const rowsOf = (jobId: string) =>
      asOwner(server.engine, async (c) => ({
        job: (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.import_jobs WHERE id = $1', [jobId]))
          .rows[0]!.n,
        staged: (
          await c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.import_rows WHERE job_id = $1', [jobId])
        ).rows[0]!.n,
        errors: (
          await c.query<{ n: number }>('SELECT count(*)::int AS n FROM app.import_errors WHERE job_id = $1', [jobId])
        ).rows[0]!.n,
      }));
    const del = (jobId: string, token?: string) => request(url(bidA, `/import/${jobId}`), { method: 'DELETE', token });

    // A finished job of memberA, with one error row.
    const done = (await uploadCsv(bidA, 'first_name,phone\nKeepme,(415) 555-0188\nBad,12\n', memberA.accessToken)).json
      .id as string;
    expect(
      (await request(url(bidA, `/import/${done}/start`), { method: 'POST', body: {}, token: memberA.accessToken }))
        .status,
    ).toBe(202);
    expect(await waitFor(bidA, done, memberA.accessToken)).toMatchObject({
      status: 'completed',
      counts: { created: 1, failed: 1 },
    });
    expect(await rowsOf(done)).toEqual({ job: 1, staged: 0, errors: 1 });
    // An unstarted job of memberA: the whole file is still staged.
    const unstarted = (await uploadCsv(bidA, 'first_name\nStaged\n', memberA.accessToken)).json.id as string;
    expect(await rowsOf(unstarted)).toEqual({ job: 1, staged: 1, errors: 0 });

    // Who may not see the job may not delete it: 404, and nothing changes.
    for (const who of [memberA2, ownerB, memberB, outsider]) {
      const r = await del(done, who.accessToken);
      expect(r.status).toBe(404);
      expect(r.json.error.code).toBe('not_found');
    }
    expect((await del(done)).status).toBe(401);
    expect((await del('not-a-uuid', memberA.accessToken)).status).toBe(400);
    expect(await rowsOf(done)).toEqual({ job: 1, staged: 0, errors: 1 });

    // The uploader deletes her finished job; an admin deletes her unstarted one.
    expect((await del(done, memberA.accessToken)).status).toBe(204);
    expect(await rowsOf(done)).toEqual({ job: 0, staged: 0, errors: 0 });
    expect((await request(url(bidA, `/import/${done}`), { token: memberA.accessToken })).status).toBe(404);
    expect((await del(done, memberA.accessToken)).status).toBe(404);
    expect((await del(unstarted, adminA.accessToken)).status).toBe(204);
    expect(await rowsOf(unstarted)).toEqual({ job: 0, staged: 0, errors: 0 });
    // The contact it created stays.
    const kept = await asOwner(server.engine, (c) =>
      c.query('SELECT 1 FROM app.contacts WHERE business_id = $1 AND first_name = $2', [bidA, 'Keepme']),
    );
    expect(kept.rowCount).toBe(1);

    // A running job (the runner holds it) cannot be deleted, not even by the owner.
    const running = (await uploadCsv(bidA, 'first_name\nBusy\n', memberA.accessToken)).json.id as string;
    await asOwner(server.engine, (c) =>
      c.query(`UPDATE app.import_jobs SET status = 'running', started_at = now() WHERE id = $1`, [running]),
    );
    for (const who of [memberA, ownerA]) {
      const r = await del(running, who.accessToken);
      expect(r.status).toBe(409);
      expect(r.json.error.code).toBe('conflict');
    }
    expect(await rowsOf(running)).toEqual({ job: 1, staged: 1, errors: 0 });
    await asOwner(server.engine, (c) =>
      c.query(`UPDATE app.import_jobs SET status = 'failed', error = 'test', finished_at = now() WHERE id = $1`, [
        running,
      ]),
    );
    expect((await del(running, ownerA.accessToken)).status).toBe(204);
  }, 120_000);
});

describe(`export (${ENGINE})`, () => {
  it('owners and admins get every live contact with formulas neutralised; members get 403, others 404', async () => {
    await asOwner(server.engine, (c) =>
      c.query(
        `INSERT INTO app.contacts (business_id, first_name, last_name, email, phone, notes) VALUES
        ($1, '=1+1', '-Minus', 'formula@example.test', '+14155550177', '@cmd'), ($1, 'Plain', 'Person', 'plain@example.test', NULL, 'ok')`,
        [bidA],
      ),
    );
    for (const who of [ownerA, adminA]) {
      const r = await request(url(bidA, '/export.csv'), { token: who.accessToken });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/csv/);
      expect(r.headers['content-disposition']).toBe('attachment; filename="contacts.csv"');
      const lines = r.text
        .replace(/^\uFEFF/, '')
        .trimEnd()
        .split('\r\n');
      expect(lines[0]).toBe(
        '"id","first_name","last_name","phone","email","source","status","notes","owner_email","created_at","updated_at"',
      );
      const formula = lines.find((l) => l.includes('formula@example.test'))!;
      expect(formula).toContain(`"'=1+1","'-Minus","'+14155550177","formula@example.test"`);
      expect(formula).toContain(`"'@cmd"`);
      expect(lines.some((l) => l.includes('plain@example.test'))).toBe(true);
      expect(lines.some((l) => l.includes('jane@example.test'))).toBe(true);
      expect(r.text).not.toMatch(/(^|,)"[=+\-@]/m);
    }
    const member = await request(url(bidA, '/export.csv'), { token: memberA.accessToken });
    expect({ status: member.status, code: member.json?.error?.code }).toEqual({ status: 403, code: 'forbidden' });
    for (const who of [ownerB, memberB, outsider]) {
      expect((await request(url(bidA, '/export.csv'), { token: who.accessToken })).status).toBe(404);
    }
    // B's owner exports B and sees none of A's contacts
    const b = await request(url(bidB, '/export.csv'), { token: ownerB.accessToken });
    expect(b.status).toBe(200);
    expect(b.text).not.toContain('formula@example.test');
  }, 60_000);

  it('pages past 2,000 contacts that share one timestamp to the microsecond: each exactly once, then the end', async () => {
    // An import batch writes thousands of contacts in one transaction, so they share
    // created_at to the microsecond. The export's pages (2,000 rows) once resumed from a
    // JavaScript Date of the last row — milliseconds only — so every later page started
    // over from that timestamp: the download repeated the same rows and never ended.
    const big = await newBusiness(server.engine, ownerA.userId, 'Export pages');
    await asOwner(server.engine, (c) =>
      c.query(
        `INSERT INTO app.contacts (business_id, first_name, last_name, email, created_at)
         SELECT $1, 'Row', 'N' || i, 'row' || i || '@example.test', '2026-05-04 03:02:01.234567+00'
           FROM generate_series(1, 2300) i`,
        [big.id],
      ),
    );
    const r = await request(url(big.id, '/export.csv'), { token: ownerA.accessToken });
    expect(r.status).toBe(200);
    const lines = r.text
      .replace(/^\uFEFF/, '')
      .trimEnd()
      .split('\r\n')
      .slice(1);
    const emails = lines.map((l) => /"(row\d+@example\.test)"/.exec(l)?.[1]);
    expect(lines).toHaveLength(2300);
    expect(new Set(emails).size).toBe(2300);
    expect(emails.every((e) => e !== undefined)).toBe(true);
    // created_at and updated_at as toISOString writes them: UTC, milliseconds truncated.
    expect(lines[0]).toContain('"2026-05-04T03:02:01.234Z"');
    expect(lines[0]).toMatch(/"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
  }, 60_000);

  it('is described in the OpenAPI document', async () => {
    const doc = await request(`${server.url}/openapi.json`);
    for (const p of [
      '/import',
      '/import/{jobId}',
      '/import/{jobId}/preview',
      '/import/{jobId}/start',
      '/import/{jobId}/errors.csv',
      '/export.csv',
    ]) {
      expect(Object.keys(doc.json.paths)).toContain(`/api/businesses/{bid}/contacts${p}`);
    }
    expect(Object.keys(doc.json.paths['/api/businesses/{bid}/contacts/import/{jobId}'])).toEqual(
      expect.arrayContaining(['get', 'patch', 'delete']),
    );
  });
});
