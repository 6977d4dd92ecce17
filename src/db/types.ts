// The query surface every module sees. A `Tx` is a handle on ONE transaction that
// already runs as a scoped role; it stops working the moment that transaction ends.

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * A hot statement whose text comes from a small fixed set: on the server engine it is a
   * named prepared statement, parsed once per connection, its plan kept by PostgreSQL
   * (docs/ARCHITECTURE.md §7). Elsewhere an ordinary statement.
   */
  prepared?: boolean;
}

export interface Tx {
  query<R = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>>;
}

/** Claims of a signed-in user's request, stored in `request.jwt.claims` for the policies. */
export interface Claims {
  /** user id (uuid) */
  sub: string;
  /** session id (uuid) */
  sid?: string;
}

export interface UserTxOptions {
  /**
   * Refuse the transaction (AppError `session_expired`) unless the claims' session is
   * live. Checked in the same round trip that sets the role and claims.
   */
  requireLiveSession?: boolean;
  /**
   * Refuse the transaction (AppError `not_found`) unless the caller is a member of this
   * business — checked in the same round trip as the role and claims, so a business
   * route pays no extra round trip for its membership check.
   */
  memberOf?: string;
  /**
   * `BEGIN READ ONLY`: the database refuses any write, so the COMMIT cannot fail for
   * a reason the caller must hear — on a pipelining client it is sent without waiting
   * for its answer (the connection's next user queues behind it). Request routes set
   * it for GET and HEAD.
   */
  readOnly?: boolean;
}

/**
 * The only way application code reaches the database (docs/ARCHITECTURE.md §7). Each call runs
 * `fn` inside BEGIN … COMMIT as one of the request roles; nothing of the role or
 * the claims survives on the pooled connection afterwards.
 */
export interface Database {
  asUser<T>(claims: Claims, fn: (tx: Tx) => Promise<T>, options?: UserTxOptions): Promise<T>;
  asAnon<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** `reason` names the server function (e.g. "auth.signin"); it is visible to SQL as `request.service_reason`. */
  asService<T>(reason: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
}

/** A privileged connection for migrations, the CLI and test fixtures: runs as `capto_owner`. */
export interface MaintenanceClient {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}
