// Password rules and hashing (P7, ASVS V6.2): argon2id at the OWASP parameters
// (m=19456 KiB, t=2, p=1), 8–128 characters by default, no composition rules, no
// truncation, and a refusal when the password is essentially the email address.
import { hash, verify } from '@node-rs/argon2';
import { AppError } from '../shared/errors.ts';

export const ARGON2_OPTIONS = {
  algorithm: 2 /* Algorithm.Argon2id: a const enum, not importable here */,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;
export const MAX_PASSWORD_LENGTH = 128;

/** Rules that need no network: length (in code points, as the user counts) and similarity to the email. */
export function assertPasswordRules(password: string, email: string, minLength: number): void {
  const length = [...password].length;
  if (length < minLength)
    throw new AppError('password_too_short', `the password must have at least ${minLength} characters`);
  if (length > MAX_PASSWORD_LENGTH)
    throw new AppError('password_too_long', `the password must have at most ${MAX_PASSWORD_LENGTH} characters`);
  if (isSimilarToEmail(password, email))
    throw new AppError('password_similar_to_email', 'the password is too similar to your email address');
}

/**
 * Too similar to the email: the password is a piece of the address ("jordan.miles",
 * "example"), or the local part plus fewer than 8 other characters ("JordanMiles2024").
 * A long passphrase that merely includes the name stays allowed.
 */
export function isSimilarToEmail(password: string, email: string): boolean {
  const strip = (v: string) => v.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
  const p = strip(password);
  const local = strip(email.split('@')[0] ?? '');
  if (p.length === 0) return false;
  if (strip(email).includes(p)) return true;
  return local.length >= 4 && p.includes(local) && p.replace(local, '').length < 8;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

// A real argon2id hash of a random password, verified when the email is unknown so the
// response takes as long as for a known email (ASVS 6.3.8: no enumeration by timing).
let dummyHash: Promise<string> | undefined;
export async function burnVerifyTime(password: string): Promise<void> {
  dummyHash ??= hashPassword(`dummy-${Math.random()}-${Date.now()}`);
  await verifyPassword(await dummyHash, password);
}
