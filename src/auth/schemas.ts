// Zod schemas the auth routes (and the demo's sign-in) share.
import { z } from 'zod';

export const emailSchema = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email())
  .transform((e) => e.toLowerCase());
// Bounded so nobody makes argon2 hash a megabyte; the 128-character rule answers password_too_long.
export const passwordSchema = z.string().min(1).max(4096);

const userSchema = z.object({ id: z.string(), email: z.string(), email_verified: z.boolean() });
export const tokenResponseSchema = z.object({
  access_token: z.string(),
  token_type: z.literal('bearer'),
  expires_in: z.number(),
  user: userSchema,
});
