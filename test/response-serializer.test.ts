// Responses are written by fast-json-stringify compiled from each route's zod schema
// (src/server/serializer.ts): a field the schema does not name is never sent — at the top,
// nested, in arrays and in a union's branch — and a schema JSON Schema cannot state exactly
// (a refinement, a transform) keeps the zod encoder, which strips too.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../src/config/index.ts';
import type { Database } from '../src/db/index.ts';
import { createLogger } from '../src/observability/logger.ts';
import { buildApp, type RouteModule } from '../src/server/app.ts';
import { plainJsonSchema } from '../src/server/serializer.ts';

const row = z.object({
  id: z.uuid(),
  name: z.string(),
  note: z.string().nullable(),
  owner: z.object({ id: z.uuid() }).optional(),
  tags: z.array(z.object({ label: z.string() })),
  kind: z.union([z.object({ k: z.literal('a') }), z.object({ k: z.literal('b'), n: z.number().int() })]),
});
const id = randomUUID();
const leaky = {
  id,
  name: 'Ann',
  note: null,
  password_hash: 'argon2id$secret',
  owner: { id, email: 'hidden@example.test' },
  tags: [{ label: 'vip', secret_score: 99 }],
  kind: { k: 'b', n: 3, token: 'tok_secret' },
};

describe('response serialisation', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    const routes: RouteModule = (root) => {
      const r = root.withTypeProvider<ZodTypeProvider>();
      r.get('/probe/row', { schema: { response: { 200: row } } }, async () => leaky as never);
      r.get(
        '/probe/transformed',
        { schema: { response: { 200: z.object({ at: z.string() }).refine((v) => v.at.length > 0) } } },
        async () => ({ at: 'x', secret: 1 }) as never,
      );
    };
    app = (
      await buildApp({
        config: loadConfig({ CAPTO_ENV: 'test', LOG_LEVEL: 'silent' }),
        logger: createLogger({ logLevel: 'silent' }),
        db: {} as Database,
        modules: [routes],
      })
    ).app;
  });
  afterAll(async () => app?.close());

  it('the compiled writer serves every schema field and nothing else', async () => {
    expect(plainJsonSchema(row)).toBeDefined(); // this route is written by fast-json-stringify
    const res = await app.inject({ method: 'GET', url: '/probe/row' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      id,
      name: 'Ann',
      note: null,
      owner: { id },
      tags: [{ label: 'vip' }],
      kind: { k: 'b', n: 3 },
    });
    for (const secret of ['password_hash', 'argon2id', 'hidden@', 'secret_score', 'tok_secret'])
      expect(res.body).not.toContain(secret);
  });

  it('a schema JSON Schema cannot state exactly keeps the zod encoder', async () => {
    expect(plainJsonSchema(z.object({ at: z.string().transform((s) => s) }))).toBeUndefined();
    expect(plainJsonSchema(z.object({ at: z.string() }).refine(() => true))).toBeUndefined();
    expect(plainJsonSchema(z.object({ at: z.date() }))).toBeUndefined();
    expect(plainJsonSchema(z.object({ n: z.number().default(1) }))).toBeUndefined();
    const res = await app.inject({ method: 'GET', url: '/probe/transformed' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ at: 'x' });
  });
});
