// The checks every NEW password passes (sign-up, change, reset): local rules first
// (cheap, no network), then Have I Been Pwned. On an outage the offline list still
// rejects the most common breached passwords; anything else is accepted with
// `pending` so the next sign-in re-checks it, unless HIBP_FAILURE_MODE=reject.
import type { Config } from '../config/index.ts';
import { AppError } from '../shared/errors.ts';
import type { BreachChecker } from './hibp.ts';
import { assertPasswordRules, hashPassword } from './passwords.ts';

export interface AcceptedPassword {
  hash: string;
  /** HIBP could not be asked: re-check at the next sign-in. */
  checkPending: boolean;
}

export async function acceptNewPassword(
  password: string,
  email: string,
  breach: BreachChecker,
  config: Pick<Config, 'passwordMinLength' | 'hibp'>,
): Promise<AcceptedPassword> {
  assertPasswordRules(password, email, config.passwordMinLength);
  const verdict = await breach.check(password);
  if (verdict === 'breached') throw breachedError();
  let checkPending = false;
  if (verdict === 'unavailable') {
    if (breach.isCommon(password)) throw breachedError();
    if (config.hibp.failureMode === 'reject') {
      throw new AppError(
        'password_check_unavailable',
        'we cannot check passwords against known breaches right now; try again in a few minutes',
      );
    }
    checkPending = true;
  }
  return { hash: await hashPassword(password), checkPending };
}

export const breachedError = () =>
  new AppError('password_breached', 'this password appears in a known data breach; choose a different one');
