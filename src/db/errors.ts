// Translate driver errors into stable AppErrors. Connection loss becomes 503
// `database_unavailable`; constraint and privilege errors become 4xx codes. The
// original error stays as `cause` for the log and never reaches the client.
import { AppError } from '../shared/errors.ts';

interface PgLikeError {
  code?: string;
  constraint?: string;
  message?: string;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOENT',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  '57P01',
  '57P02',
  '57P03', // admin_shutdown, crash_shutdown, cannot_connect_now
  '08000',
  '08003',
  '08006',
  '08001',
  '08004', // connection exceptions
]);

export function isConnectionError(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const { code, message } = e as PgLikeError;
  if (code && CONNECTION_CODES.has(code)) return true;
  return (
    typeof message === 'string' &&
    /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(message)
  );
}

/** An AppError for a database error a client could have caused or should retry; undefined for bugs. */
export function mapDatabaseError(e: unknown): AppError | undefined {
  if (e instanceof AppError) return e;
  if (isConnectionError(e))
    return new AppError('database_unavailable', 'the database is unavailable; try again shortly', { cause: e });
  if (!e || typeof e !== 'object') return undefined;
  const { code } = e as PgLikeError;
  switch (code) {
    case '42501': // insufficient_privilege, including "new row violates row-level security policy"
      return new AppError('forbidden', 'you do not have permission to do that', { cause: e });
    case '23505':
      return new AppError('conflict', 'that conflicts with an existing record', { cause: e });
    case '23503':
      return new AppError('conflict', 'that refers to a record that does not exist or is still in use', { cause: e });
    case '23514':
    case '23502':
      return new AppError('validation_failed', 'a value is out of range or malformed', { cause: e });
    case '54000': // program_limit_exceeded: e.g. an index row too large for a huge value
      return new AppError('validation_failed', 'a value is too large', { cause: e });
    case '40001':
    case '40P01':
      return new AppError('conflict', 'a concurrent change got in the way; try again', { cause: e });
    default:
      break;
  }
  // Class 22 "data exception" is the database refusing a value it was handed: U+0000 in
  // text (22021 character_not_in_repertoire, 22P05 untranslatable_character), a string
  // too long (22001), a malformed number, date or uuid (22P02, 22007, 22008), a value
  // out of range (22003) … Every one of them is the request's data, so a 400; the edge
  // refuses most of them earlier (docs/SECURITY.md "Hostile text").
  if (typeof code === 'string' && code.startsWith('22'))
    return new AppError('validation_failed', 'a value is out of range or malformed', { cause: e });
  return undefined;
}
