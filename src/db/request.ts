// The request transaction (docs/ARCHITECTURE.md §7): asUser / asAnon / asService are the only way
// application code gets a query handle. Role and claims are set with set_config(…,
// true) — transaction-local — in the same round trip as BEGIN, so nothing survives
// on a pooled connection and the context costs one network round trip.
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { AppError } from '../shared/errors.ts';
import { isConnectionError, mapDatabaseError } from './errors.ts';
import { ROLE_NAMES } from './roles.ts';
import type { Claims, Database, QueryOptions, QueryResult, Tx, UserTxOptions } from './types.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Statements that would change the role or end the scoped transaction from inside
 * a handler. The database would still confine them (capto_app holds no privileges
 * of its own), but a handler has no business issuing them, so they are refused.
 */
const FORBIDDEN_STATEMENT =
  /(^|;)\s*((begin|commit|rollback|end|abort|start\s+transaction|prepare\s+transaction)\b|(set|reset)\s+(local\s+|session\s+)?(role|session\s+authorization)\b)|set_config\s*\(\s*'(role|request\.jwt\.claims|request\.service_reason)'/i;

export interface DatabaseOptions {
  onError?: (e: unknown) => void;
  /**
   * Send statements marked `prepared` as named prepared statements. Only where each pooled
   * connection is its own backend session (server PostgreSQL): on PGlite every socket
   * connection shares one session, whose statement names would collide.
   */
  preparedStatements?: boolean;
}

/** A prepared statement's name: a digest of its text, so one name never means two texts. */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `capto_${createHash('sha256').update(text).digest('base64url').slice(0, 24)}`;
    if (statementNames.size < 1000) statementNames.set(text, name);
  }
  return name;
}

const noop = () => undefined;

/**
 * Cork the client's socket until the returned function is called or the event loop
 * turns, whichever comes first; each hold is released exactly once.
 */
function holdWrites(client: pg.PoolClient): () => void {
  const stream = (client as unknown as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } })
    .connection?.stream;
  if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return noop;
  stream.cork();
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    stream.uncork!();
  };
  setImmediate(release);
  return release;
}

export function createDatabase(pool: pg.Pool, options: DatabaseOptions = {}): Database {
  async function run<T>(
    setup: string,
    fn: (tx: Tx) => Promise<T>,
    checkSetup?: (rows: Record<string, unknown>[]) => void,
    readOnly = false,
  ): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw new AppError('database_unavailable', 'the database is unavailable; try again shortly', { cause: e });
    }
    let active = true;
    let discard = false;
    // A checked-out client whose backend dies emits 'error' outside any query; without
    // a listener that would crash the process. Mark it for discarding instead.
    const onClientError = () => {
      discard = true;
    };
    client.on('error', onClientError);
    // On a pipelining client (server engine) the set-up is not awaited before the
    // handler runs: its first statement goes out right behind the set-up, and the
    // answers come back in order. No result reaches the handler before the set-up's
    // checks have passed (every query first awaits `ready`); a statement sent behind
    // a failed set-up runs either in an aborted transaction or with the checks'
    // verdict pending and is rolled back with everything else.
    // The set-up waits in the socket's buffer for that first statement (or the next
    // turn of the event loop), so both leave in one write: on loopback every write
    // costs the sender the receiver's network stack too.
    const pipelined = client.pipeline;
    const flushSetup = pipelined ? holdWrites(client) : noop;
    let ready: Promise<void> | undefined = (
      client.query(setup) as unknown as Promise<pg.QueryResult | pg.QueryResult[]>
    ).then((r) => {
      const results = Array.isArray(r) ? r : [r];
      checkSetup?.(results[results.length - 1]?.rows ?? []);
    });
    ready.catch(() => undefined); // observed by settle(); never an unhandled rejection meanwhile
    const settle = async () => {
      const pending = ready;
      if (pending) {
        await pending;
        ready = undefined;
      }
    };
    const tx: Tx = {
      async query<R>(text: string, params?: readonly unknown[], queryOptions?: QueryOptions): Promise<QueryResult<R>> {
        if (!active) throw new Error('a transaction handle was used after its transaction ended');
        if (FORBIDDEN_STATEMENT.test(text))
          throw new Error(
            'statements that change the role or the transaction are not allowed in a request transaction',
          );
        const sent =
          queryOptions?.prepared && options.preparedStatements
            ? client.query({ name: statementName(text), text, values: params as unknown[] | undefined })
            : client.query(text, params as unknown[] | undefined);
        flushSetup();
        if (ready) {
          sent.catch(() => undefined); // the set-up's own error is the one to report
          await settle();
        }
        const r = await sent;
        return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
      },
    };
    try {
      if (!pipelined) await settle();
      const out = await fn(tx);
      flushSetup();
      await settle(); // a handler that ran no statement still needs the checks' verdict
      if (readOnly && pipelined) {
        // Nothing was written (the database saw to that), so nothing waits on the COMMIT:
        // it leaves with the connection's next transaction (or at the next turn of the
        // event loop), which queues behind it. A connection lost meanwhile fails that
        // COMMIT and is dropped by the pool.
        holdWrites(client);
        client.query('COMMIT').catch(() => undefined);
      } else {
        await client.query('COMMIT');
      }
      return out;
    } catch (e) {
      flushSetup();
      try {
        await client.query('ROLLBACK');
      } catch {
        discard = true; // the connection is unusable: never return it to the pool
      }
      if (isConnectionError(e)) discard = true;
      options.onError?.(e);
      throw mapDatabaseError(e) ?? e;
    } finally {
      active = false;
      client.off('error', onClientError);
      client.release(discard ? new Error('discarded after a failed transaction') : undefined);
    }
  }

  // The claims JSON is built from validated UUIDs above and quoted by pg's own
  // escapeLiteral: parameters are impossible in a multi-statement simple query.
  const literal = (v: string) => pg.escapeLiteral(v);

  return Object.freeze({
    asUser<T>(claims: Claims, fn: (tx: Tx) => Promise<T>, opts: UserTxOptions = {}): Promise<T> {
      if (!UUID.test(claims.sub) || (claims.sid !== undefined && !UUID.test(claims.sid))) {
        return Promise.reject(new AppError('invalid_token', 'the access token is not valid'));
      }
      const json = JSON.stringify({
        sub: claims.sub.toLowerCase(),
        sid: claims.sid?.toLowerCase(),
        role: 'authenticated',
      });
      if (opts.memberOf !== undefined && !UUID.test(opts.memberOf)) {
        return Promise.reject(new AppError('not_found', 'business not found'));
      }
      // Checks run as a statement of their own: names in schema app resolve only once the
      // role is set (capto_app itself has no USAGE on app); still the same round trip.
      const checks = [
        opts.requireLiveSession ? 'app.session_is_live() AS live' : undefined,
        opts.memberOf !== undefined ? `app.is_member('${opts.memberOf.toLowerCase()}'::uuid) AS member` : undefined,
      ].filter((c) => c !== undefined);
      const setup = `BEGIN${opts.readOnly ? ' READ ONLY' : ''}; SELECT set_config('role', '${ROLE_NAMES.authenticated}', true), set_config('request.jwt.claims', ${literal(json)}, true)${checks.length ? `; SELECT ${checks.join(', ')}` : ''}`;
      return run(
        setup,
        fn,
        checks.length
          ? (rows) => {
              if (opts.requireLiveSession && rows[0]?.live !== true)
                throw new AppError('session_expired', 'your session has ended; sign in again');
              if (opts.memberOf !== undefined && rows[0]?.member !== true)
                throw new AppError('not_found', 'business not found');
            }
          : undefined,
        opts.readOnly === true,
      );
    },
    asAnon<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      return run(
        `BEGIN; SELECT set_config('role', '${ROLE_NAMES.anon}', true), set_config('request.jwt.claims', '', true)`,
        fn,
      );
    },
    asService<T>(reason: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
      if (!/^[a-z][a-z0-9_.:-]{0,80}$/.test(reason))
        return Promise.reject(new Error(`invalid service reason: ${reason}`));
      return run(
        `BEGIN; SELECT set_config('role', '${ROLE_NAMES.service}', true), set_config('request.jwt.claims', '', true), set_config('request.service_reason', '${reason}', true)`,
        fn,
      );
    },
  });
}

export const newId = (): string => randomUUID();
