// Response serialisation (docs/ARCHITECTURE.md §3): every route's response schema is a zod
// schema, and the answer is written by fast-json-stringify compiled from that schema's JSON
// Schema — Fastify's own serializer, built once per route and status — instead of a zod
// encode plus JSON.stringify on every response (measured: 6.5 % of a busy server's time).
// Only properties the schema names are written: fast-json-stringify leaves out any other
// unless a schema allows them (z.record, z.looseObject), so a row with an extra column
// never leaks it (test/response-serializer.test.ts). `additionalProperties: false` is
// dropped from the compiled schema: it would make a union's branch refuse a row that has
// an extra column (fast-json-stringify picks a branch by validating), where zod strips. A schema with something JSON Schema cannot say exactly — a transform, codec,
// default, date, custom check — keeps the zod serializer (encode, then JSON.stringify).
import fastJson from 'fast-json-stringify';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

type SerializerCompiler = Parameters<typeof zodSerializerCompiler>[0] extends infer R
  ? (route: R) => (data: unknown) => string
  : never;

/** zod types whose output JSON Schema states exactly what is written. */
const PLAIN = new Set([
  'string',
  'number',
  'int',
  'boolean',
  'null',
  'literal',
  'enum',
  'object',
  'array',
  'union',
  'nullable',
  'optional',
  'record',
  'unknown',
  'any',
  'readonly',
]);

/** The route's JSON Schema for fast-json-stringify, or undefined when zod must write it. */
export function plainJsonSchema(schema: unknown): Record<string, unknown> | undefined {
  if (!(schema instanceof z.ZodType)) return undefined;
  let plain = true;
  try {
    const json = z.toJSONSchema(schema, {
      io: 'output',
      target: 'draft-07',
      unrepresentable: 'throw',
      cycles: 'throw',
      reused: 'inline',
      metadata: z.registry(), // no $defs: every schema inline
      override: ({ zodSchema }) => {
        if (!PLAIN.has(zodSchema._zod.def.type)) plain = false;
        // A string with a check JSON Schema does not carry (refine) would go unchecked; that is
        // the encoder's job, not the writer's, so only formats and lengths are accepted.
        if (
          (zodSchema._zod.def as { checks?: { _zod: { def: { check: string } } }[] }).checks?.some(
            (c) => c._zod.def.check === 'custom',
          )
        )
          plain = false;
      },
    }) as Record<string, unknown>;
    return plain ? (open(json) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The schema without `additionalProperties: false` (extras are left out when writing anyway). */
function open(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(open);
  if (json === null || typeof json !== 'object') return json;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) if (!(k === 'additionalProperties' && v === false)) out[k] = open(v);
  return out;
}

export const responseSerializerCompiler: SerializerCompiler = (route) => {
  const json = plainJsonSchema((route as { schema: unknown }).schema);
  if (!json) return zodSerializerCompiler(route as never);
  return fastJson(json as never) as (data: unknown) => string;
};
