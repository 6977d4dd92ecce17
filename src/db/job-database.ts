// The job engine's connections (docs/ARCHITECTURE.md §22): a small pool of its
// own, logging in as the server's role (capto_app), which holds DML on the job schema
// and nothing else there. pg-boss runs every statement through `executeSql`.
//
// On the embedded engine every socket connection is the same PGlite session, and
// pglite-socket keeps one connection's messages together only inside a transaction:
// outside one, the Parse of one connection's parameterised statement and the Bind of
// another's interleave on the session's single unnamed statement ("bind message
// supplies 1 parameters, but prepared statement "" requires 2" — seen here with
// pg-boss's send racing its fetch). So there each parameterised statement runs in its
// own BEGIN … COMMIT; a simple-protocol text is one message and always runs whole.
// (Request transactions are safe already: their BEGIN comes first.)
import pg from 'pg';
import type { Engine } from './engine.ts';

export interface JobDatabase {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  close(): Promise<void>;
}

export function openJobDatabase(
  engine: Pick<Engine, 'kind' | 'jobConnection'>,
  options: { max?: number; onError?: (e: Error) => void } = {},
): JobDatabase {
  const pool = new pg.Pool({
    ...engine.jobConnection,
    ...(options.max ? { max: options.max } : {}),
    application_name: 'capto-jobs',
  });
  // An idle connection dropped by the server must not end the process; the pool replaces it.
  pool.on('error', (e) => options.onError?.(e));
  const sharedSession = engine.kind === 'embedded';
  let closed: Promise<void> | undefined;
  return {
    async executeSql(text, values) {
      if (!sharedSession || !values?.length) return pool.query(text, values);
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const r = await client.query(text, values);
        await client.query('COMMIT');
        return r;
      } catch (e) {
        await client.query('ROLLBACK').catch((err: Error) => (broken = err));
        throw e;
      } finally {
        client.release(broken);
      }
    },
    close() {
      closed ??= pool.end();
      return closed;
    },
  };
}
