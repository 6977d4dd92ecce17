// Two engines behind one interface (docs/ARCHITECTURE.md §5). Both hand the app a `pg` pool that
// logs in as capto_app, and a maintenance client for migrations and the CLI.
import type pg from 'pg';
import { OWNER_TX } from './migrator.ts';

export interface Engine {
  readonly kind: 'embedded' | 'server';
  /** 'admin-channel': the embedded database of a running server, reached through it (docs/ARCHITECTURE.md §5). */
  readonly via?: 'admin-channel';
  /** Pool of capto_app connections. Only src/db/request.ts turns it into transactions. */
  readonly pool: pg.Pool;
  /**
   * How the job engine's own pool reaches the database: the same login (capto_app) as
   * `pool`, on connections of its own (docs/ARCHITECTURE.md §22).
   */
  readonly jobConnection: pg.PoolConfig;
  /** A dedicated connection that may act as capto_owner (migrations, CLI, fixtures). */
  withMaintenanceClient<T>(fn: (client: pg.ClientBase) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Run `fn` in one transaction as capto_owner on a maintenance connection. */
export function asOwner<T>(engine: Engine, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  return engine.withMaintenanceClient(async (client) => {
    await client.query(`BEGIN; ${OWNER_TX}`);
    try {
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  });
}
