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
    case '22001':
    case '22P02':
    case '22007':
    case '22008':
    case '22003':
      return new AppError('validation_failed', 'a value is out of range or malformed', { cause: e });
    case '40001':
    case '40P01':
      return new AppError('conflict', 'a concurrent change got in the way; try again', { cause: e });
    default:
      return undefined;
  }
}
