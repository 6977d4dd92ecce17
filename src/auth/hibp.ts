// Have I Been Pwned (P7, ASVS 6.2.12): the k-anonymity range API. Only the first five
// hex characters of the password's SHA-1 leave the server; `Add-Padding: true` makes
// every response a similar size so an observer cannot guess the prefix from it; the
// padded lines (count 0) are ignored. On an outage the bundled list of the most common
// breached passwords (@zxcvbn-ts/language-common) still blocks the worst choices; that
// list is loaded at the first outage, not kept in memory by every server (~3 MB;
// docs/ARCHITECTURE.md §5).
import { createHash } from 'node:crypto';
import { lazyRequire, once } from '../shared/lazy.ts';

export type BreachVerdict = 'breached' | 'clean' | 'unavailable';

export interface BreachChecker {
  /** Ask HIBP; 'unavailable' when the service failed or timed out. */
  check(password: string): Promise<BreachVerdict>;
  /** The offline fallback: true when the password is on the bundled common-password list. */
  isCommon(password: string): boolean;
}

const TIMEOUT_MS = 2_000;
const zxcvbnCommon = lazyRequire<typeof import('@zxcvbn-ts/language-common')>('@zxcvbn-ts/language-common');
const commonPasswords = once(() => new Set(zxcvbnCommon().dictionary['passwords-common'].map((p) => p.toLowerCase())));

export function createBreachChecker(rangeUrl: string, timeoutMs = TIMEOUT_MS): BreachChecker {
  const base = rangeUrl.endsWith('/') ? rangeUrl : `${rangeUrl}/`;
  return {
    async check(password) {
      const digest = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
      const prefix = digest.slice(0, 5);
      const suffix = digest.slice(5);
      let body: string;
      try {
        const res = await fetch(`${base}${prefix}`, {
          headers: { 'Add-Padding': 'true', 'User-Agent': 'capto-password-check' },
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (!res.ok) return 'unavailable';
        body = await res.text();
      } catch {
        return 'unavailable';
      }
      for (const line of body.split('\n')) {
        const [candidate, count] = line.trim().split(':');
        if (candidate?.toUpperCase() === suffix && Number(count) > 0) return 'breached';
      }
      return 'clean';
    },
    isCommon(password) {
      return commonPasswords().has(password.toLowerCase());
    },
  };
}
