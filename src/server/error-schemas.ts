// OpenAPI descriptions of error answers that a client is expected to handle (the error
// shape itself is docs/ARCHITECTURE.md §3). A route lists one under `response` only when
// every answer of that status has this shape: the schema also serialises the answer.
import { z } from 'zod';

/** 429: a limit was reached; `retry_after` (seconds, also the Retry-After header) says when it lifts. */
export const rateLimitedResponse = z
  .object({
    error: z.looseObject({
      code: z.literal('rate_limited'),
      message: z.string(),
      retry_after: z.number().int().min(1).describe('seconds until the limit lifts (also the Retry-After header)'),
    }),
  })
  .describe('Too many requests: wait retry_after seconds');
