// Fuzzing: fast-check generated path ids, query strings and JSON bodies for every JSON
// endpoint in the OpenAPI document, as an owner, a member and an outsider → never a
// 5xx, never a stack trace, never another business's data. Bounded in runs. Then every
// operation of /openapi.json, with no exception, gets each hostile string (U+0000, lone
// surrogates, over-long text) in each of its inputs: NUL and surrogates are a 400
// validation_failed at the edge, nothing is ever a 5xx (docs/SECURITY.md "Hostile text").
import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOwner } from '../src/db/engine.ts';
import { signUp, type SignedUpUser } from './support/auth.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const RUNS_PER_ROUTE = Number(process.env.CAPTO_FUZZ_RUNS ?? 12);
// Routes that end the persona's own session or reach outside services are exercised elsewhere.
// Long-lived event streams never end on their own; test/notifications.test.ts covers the stream.
const SKIP = [
  /^\/auth\/(signout|password|google|sessions\/)/,
  /^\/webhooks\//,
  /^\/auth\/demo/,
  /\/import/,
  /export/,
  /\/notifications\/stream$/,
];

let s: TestServer;
let owner: SignedUpUser;
let member: SignedUpUser;
let outsider: SignedUpUser;
let foreignOwner: SignedUpUser;
const marker = `FOREIGNMARK${randomBytes(4).toString('hex')}`;
const ids: Record<string, string> = {};

beforeAll(async () => {
  s = await startTestServer();
  [owner, member, outsider, foreignOwner] = await Promise.all([
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
    signUp(s, { verified: true }),
  ]);
  await asOwner(s.engine, async (c) => {
    const a = randomUUID();
    const b = randomUUID();
    await c.query(`INSERT INTO app.businesses (id, name, created_by) VALUES ($1, 'Own Lending', $2), ($3, $4, $5)`, [
      a,
      owner.userId,
      b,
      `${marker} Lending`,
      foreignOwner.userId,
    ]);
    await c.query(
      `INSERT INTO app.memberships (business_id, user_id, role) VALUES ($1, $2, 'owner'), ($1, $3, 'member'), ($4, $5, 'owner') ON CONFLICT DO NOTHING`,
      [a, owner.userId, member.userId, b, foreignOwner.userId],
    );
    const ca = await c.query<{ id: string }>(
      `INSERT INTO app.contacts (business_id, first_name, email) VALUES ($1, 'Own', 'own@example.test') RETURNING id`,
      [a],
    );
    const cb = await c.query<{ id: string }>(
      `INSERT INTO app.contacts (business_id, first_name, last_name, email, phone, notes) VALUES ($1, $2, $2, $3, '+15555550199', $2) RETURNING id`,
      [b, marker, `${marker.toLowerCase()}@example.test`],
    );
    Object.assign(ids, {
      ownBusiness: a,
      foreignBusiness: b,
      ownContact: ca.rows[0]!.id,
      foreignContact: cb.rows[0]!.id,
    });
  });
});
afterAll(async () => s?.stop());

interface Operation {
  method: string;
  path: string;
  params: string[];
  hasBody: boolean;
}

function operations(): Operation[] {
  const doc = s.app.swagger() as { paths?: Record<string, Record<string, { requestBody?: unknown }>> };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths ?? {})) {
    if (SKIP.some((re) => re.test(path))) continue;
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'patch', 'put', 'delete'].includes(method)) continue;
      ops.push({
        method: method.toUpperCase(),
        path,
        params: [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!),
        hasBody: op.requestBody !== undefined || ['post', 'patch', 'put'].includes(method),
      });
    }
  }
  return ops;
}

// Strings PostgreSQL cannot store as text, and strings longer than any field allows.
const NUL_STRINGS = ['\u0000', 'own\u0000ed', '%00\u0000'];
const SURROGATE_STRINGS = ['\ud800', 'a\udfffb', '\udc00\ud800'];
const LONG_STRINGS = ['A'.repeat(10_000), `${'é'.repeat(3_000)}@example.test`, 'x'.repeat(300_000)];
const hostileArb = fc.constantFrom(...NUL_STRINGS, ...SURROGATE_STRINGS, LONG_STRINGS[0]!);

const idArb = () =>
  fc.oneof(
    fc.constantFrom(ids.ownBusiness!, ids.foreignBusiness!, ids.ownContact!, ids.foreignContact!, randomUUID()),
    fc.constantFrom(
      'not-a-uuid',
      '0',
      '-1',
      "1' OR '1'='1",
      '%00',
      '..%2F..%2Fetc',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
    ),
    hostileArb,
  );
const valueArb = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(marker, "' OR 1=1 --", '<script>', '+15555550199', ids.foreignBusiness ?? ''),
  hostileArb,
);
const queryArb = fc.dictionary(
  fc.constantFrom(
    'q',
    'limit',
    'cursor',
    'sort',
    'status',
    'source',
    'list_id',
    'owner_id',
    'stage',
    'page',
    'done',
    'assignee',
  ),
  fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), fc.constant(marker), hostileArb),
);
const bodyArb = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 12 }), valueArb, { maxKeys: 6 }),
  fc.record(
    {
      name: valueArb,
      first_name: valueArb,
      email: valueArb,
      phone: valueArb,
      role: valueArb,
      stage: valueArb,
      business_id: fc.constant(ids.foreignBusiness ?? ''),
      contact_id: idArb(),
    },
    { requiredKeys: [] },
  ),
  fc.anything({ maxDepth: 2 }),
);

describe('fuzzing every JSON endpoint', () => {
  it('never answers 5xx, never leaks a stack trace or another business’s data', async () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(10); // the OpenAPI document must describe the API
    const personas = [owner, member, outsider];
    const failures: string[] = [];
    for (const op of ops) {
      await fc
        .assert(
          fc.asyncProperty(
            fc.constantFrom(...personas),
            fc.tuple(...op.params.map(() => idArb())),
            queryArb,
            bodyArb,
            async (who, pathIds, query, body) => {
              let url = op.path;
              op.params.forEach((p, i) => {
                url = url.replace(`{${p}}`, encodeURIComponent(String(pathIds[i])));
              });
              const qs = new URLSearchParams(query as Record<string, string>).toString();
              const res = await s.app.inject({
                method: op.method as 'GET',
                url: qs ? `${url}?${qs}` : url,
                headers: {
                  authorization: `Bearer ${who.accessToken}`,
                  origin: s.url,
                  ...(op.hasBody ? { 'content-type': 'application/json' } : {}),
                },
                ...(op.hasBody ? { payload: JSON.stringify(body) ?? 'null' } : {}),
              });
              // 501 google_not_configured is the one intended 5xx: the operator has not set up Google.
              const intended = res.statusCode === 501 && res.body.includes('"google_not_configured"');
              const problem =
                res.statusCode >= 500 && !intended
                  ? `${res.statusCode}`
                  : /\bat [\w.<>]+ \(|\.ts:\d+:\d+|node_modules/.test(res.body)
                    ? 'stack trace'
                    : res.body.includes(marker)
                      ? 'foreign data'
                      : undefined;
              if (problem)
                failures.push(
                  `${op.method} ${url}${qs ? `?${qs}` : ''} as ${who === owner ? 'owner' : who === member ? 'member' : 'outsider'} → ${problem}: ${res.body.slice(0, 200)}`,
                );
              return problem === undefined;
            },
          ),
          { numRuns: RUNS_PER_ROUTE, endOnFailure: true },
        )
        .catch(() => undefined);
    }
    expect(failures).toEqual([]);
  }, 600_000);

  it('positive control: the owner does see her own data through the same routes', async () => {
    const r = await s.app.inject({
      method: 'GET',
      url: `/api/businesses/${ids.ownBusiness}/contacts/${ids.ownContact}`,
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('own@example.test');
    const foreign = await s.app.inject({
      method: 'GET',
      url: `/api/businesses/${ids.foreignBusiness}/contacts/${ids.foreignContact}`,
      headers: { authorization: `Bearer ${foreignOwner.accessToken}` },
    });
    expect(foreign.statusCode).toBe(200);
    expect(foreign.body).toContain(marker); // the marker is really there for its owner
  });
});

// ---------------------------------------------------------------------------
// Every operation × every input × every hostile string. Derived from /openapi.json, so
// a new route is covered the day it is added.
// ---------------------------------------------------------------------------
interface JsonSchema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  minLength?: number;
  minimum?: number;
}
interface DocOperation {
  parameters?: Array<{ in: string; name: string; schema?: JsonSchema }>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

/**
 * Percent-encode text for a URL, lone surrogates included: a URL carries bytes, so a
 * lone surrogate goes as its (invalid) 3-byte UTF-8 form, the way an attacker sends it.
 */
function encodeUrlText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      out += [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    } else out += encodeURIComponent(ch);
  }
  return out;
}

/** A plausible value for a schema, so a body with ONE hostile field is otherwise valid. */
function sample(schema: JsonSchema | undefined): unknown {
  if (!schema) return 'x';
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  if (schema.anyOf?.length) return sample(schema.anyOf.find((s) => s.type !== 'null') ?? schema.anyOf[0]);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'integer':
    case 'number':
      return Math.max(1, schema.minimum ?? 1);
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object':
      return Object.fromEntries((schema.required ?? []).map((k) => [k, sample(schema.properties?.[k])]));
    default:
      if (schema.format === 'uuid') return randomUUID();
      if (schema.format === 'email') return `fuzz-${randomBytes(3).toString('hex')}@example.test`;
      if (schema.format === 'date') return '2030-01-01';
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
  }
}

describe('hostile strings in every input of every OpenAPI operation', () => {
  it('NUL and lone surrogates are 400 validation_failed; nothing (over-long text included) is a 5xx', async () => {
    const doc = (await s.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, DocOperation>>;
    };
    const failures: string[] = [];
    let requests = 0;
    let operationCount = 0;
    let unauthenticated = 0;
    // In a URL a lone surrogate arrives as invalid UTF-8 (%ED%A0%80): refused as well.
    const expectRefused = (h: string, _inUrl: boolean) => NUL_STRINGS.includes(h) || SURROGATE_STRINGS.includes(h);

    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (!['get', 'post', 'patch', 'put', 'delete'].includes(method)) continue;
        operationCount++;
        const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
        const queryParams = (op.parameters ?? []).filter((p) => p.in === 'query');
        const [contentType, media] = Object.entries(op.requestBody?.content ?? {})[0] ?? [];
        const bodySchema = media?.schema;
        const baseParams = Object.fromEntries(
          pathParams.map((p) => [p, p === 'bid' ? ids.ownBusiness! : randomUUID()]),
        );
        const baseBody = contentType === 'application/json' ? sample(bodySchema ?? { type: 'object' }) : undefined;

        // Each slot is one place a hostile string goes; every other input stays plausible.
        const slots: Array<{
          where: string;
          inUrl?: boolean;
          refusedOnly?: boolean;
          build: (h: string) => { url: string; body?: unknown };
        }> = [];
        const urlOf = (params: Record<string, string>, query: Record<string, string>) => {
          const p = path.replace(/\{(\w+)\}/g, (_, n: string) => encodeUrlText(params[n]!));
          const qs = Object.entries(query)
            .map(([k, v]) => `${encodeUrlText(k)}=${encodeUrlText(v)}`)
            .join('&');
          return qs ? `${p}?${qs}` : p;
        };
        for (const p of pathParams)
          slots.push({
            inUrl: true,
            where: `path ${p}`,
            build: (h) => ({ url: urlOf({ ...baseParams, [p]: h }, {}), body: baseBody }),
          });
        for (const q of queryParams)
          slots.push({
            inUrl: true,
            where: `query ${q.name}`,
            build: (h) => ({ url: urlOf(baseParams, { [q.name]: h }), body: baseBody }),
          });
        if (contentType === 'application/json') {
          const props = Object.keys(bodySchema?.properties ?? {});
          for (const prop of props.length ? props : ['text'])
            slots.push({
              where: `body ${prop}`,
              build: (h) => ({ url: urlOf(baseParams, {}), body: { ...(baseBody as object), [prop]: h } }),
            });
        } else if (contentType) {
          slots.push({
            where: `body (${contentType})`,
            build: (h) => ({ url: urlOf(baseParams, {}), body: `a,b\n${h},x\n` }),
          });
        }
        // An input the operation does not declare is still text the request carries.
        slots.push({
          inUrl: true,
          refusedOnly: true, // an undeclared long parameter is ignored, and the handler really runs (sign-out…)
          where: 'undeclared query',
          build: (h) => ({ url: urlOf(baseParams, { fuzz: h }), body: baseBody }),
        });

        for (const slot of slots) {
          for (const h of [...NUL_STRINGS, ...SURROGATE_STRINGS, ...(slot.refusedOnly ? [] : LONG_STRINGS)]) {
            const { url, body } = slot.build(h);
            const isJson = typeof body !== 'string';
            const res = await s.app.inject({
              method: method.toUpperCase() as 'GET',
              url,
              headers: {
                authorization: `Bearer ${owner.accessToken}`,
                origin: s.url,
                ...(body !== undefined ? { 'content-type': isJson ? 'application/json' : contentType! } : {}),
              },
              ...(body !== undefined ? { payload: isJson ? JSON.stringify(body) : body } : {}),
            });
            requests++;
            if (res.statusCode === 401) unauthenticated++;
            const label = `${method.toUpperCase()} ${path} ${slot.where} ← ${JSON.stringify(h.slice(0, 12))}${h.length > 12 ? `…(${h.length})` : ''}`;
            const intended = res.statusCode === 501 && res.body.includes('"google_not_configured"');
            if (res.statusCode >= 500 && !intended)
              failures.push(`${label} → ${res.statusCode} ${res.body.slice(0, 160)}`);
            else if (
              expectRefused(h, slot.inUrl === true) &&
              isJson &&
              !(res.statusCode === 400 && res.body.includes('"validation_failed"'))
            )
              failures.push(`${label} → ${res.statusCode} (expected 400 validation_failed) ${res.body.slice(0, 160)}`);
            else if (
              expectRefused(h, slot.inUrl === true) &&
              !isJson &&
              (res.statusCode < 400 || res.statusCode >= 500)
            )
              failures.push(`${label} → ${res.statusCode} (expected a 4xx refusal)`);
          }
        }
      }
    }
    expect(operationCount).toBeGreaterThan(60); // the whole API, not a handful
    expect(requests).toBeGreaterThan(operationCount * 6);
    expect(failures).toEqual([]);
    // The persona stayed signed in throughout: the requests reached the routes, not a 401.
    expect(unauthenticated).toBeLessThan(requests / 10);
    const me = await s.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${owner.accessToken}` } });
    expect(me.statusCode).toBe(200);
  }, 600_000);

  it('positive control: the same inputs without the hostile characters are accepted', async () => {
    const ok = await s.app.inject({
      method: 'GET',
      url: `/api/businesses/${ids.ownBusiness}/contacts?q=${encodeURIComponent('own')}`,
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('own@example.test');
    const refused = await s.app.inject({
      method: 'GET',
      url: `/api/businesses/${ids.ownBusiness}/contacts?q=${encodeURIComponent('own\u0000')}`,
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ error: { code: 'validation_failed' } });
  });
});
