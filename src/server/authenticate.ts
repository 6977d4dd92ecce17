// The authentication step: the one way a route learns who is calling (docs/ARCHITECTURE.md,
// "The authentication step"). A route declares `security: [{ bearer: [] }]` in its schema
// (the same declaration /openapi.json shows); the step then runs as that route's first
// onRequest hook, before parsing and validation: it verifies the access token (ES256,
// issuer, audience, published key) and checks in the database that the token's session
// is still live, so a token is dead on every route the moment its session ends (sign-out,
// "sign out everywhere", password reset, revocation). `callerOf(request)` is the only
// source of the caller's identity and throws for a route that did not go through the step,
// so a route cannot act for a user without it — whether it then runs as the user (see
// scope.ts) or switches to the service role.
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, onSendHookHandler } from 'fastify';
import type { Claims, Database } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The handler's first act is `userTx` / `inBusiness` (scope.ts), whose set-up checks
     * the session anyway: the step verifies the token but skips its own liveness round
     * trip (docs/ARCHITECTURE.md §8). `callerOf` refuses until that check has passed, and
     * a success answered without it is refused.
     */
    sessionInTransaction?: boolean;
  }
}

export interface TokenVerifier {
  /** Verified claims of a compact JWT, or AppError `invalid_token`. */
  verify(token: string): Promise<Required<Claims>>;
}

/** Who is calling: the user and the live session of a verified access token. */
export type Caller = Required<Claims>;

/** `[{ bearer: [] }]`: a token is required. `[{ bearer: [] }, {}]`: optional, checked when sent. */
type Security = { [scheme: string]: string[] }[];
export const BEARER_SECURITY: Security = [{ bearer: [] }];
export const OPTIONAL_BEARER_SECURITY: Security = [{ bearer: [] }, {}];

const BEARER = /^Bearer ([A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]*\.[A-Za-z0-9_=-]*)$/;

type Mode = 'required' | 'optional';

const callers = new WeakMap<FastifyRequest, Caller>();
const stepped = new WeakSet<FastifyRequest>();
/** Verified tokens whose session the route's own transaction will check (sessionInTransaction). */
const pending = new WeakMap<FastifyRequest, { caller: Caller; reply: FastifyReply }>();
/** `METHOD url` of every route installed with sessionInTransaction, for the revocation tests. */
const deferredRoutes = new Set<string>();

/** The routes whose liveness check is their transaction's set-up (test/request-path.test.ts checks each). */
export function sessionInTransactionRoutes(): string[] {
  return [...deferredRoutes].sort();
}

function modeOf(security: unknown): Mode | undefined {
  if (!Array.isArray(security)) return undefined;
  const entries = security.filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null);
  if (!entries.some((s) => 'bearer' in s)) return undefined;
  return entries.some((s) => Object.keys(s).length === 0) ? 'optional' : 'required';
}

function routeName(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? request.url}`;
}

/**
 * Install the step on every route registered after this call that declares bearer
 * security. Authenticated routes must appear in /openapi.json (no `hide`): the
 * revocation test enumerates them from there.
 */
export function installAuthentication(app: FastifyInstance, deps: { db: Database; tokens?: TokenVerifier }): void {
  app.addHook('onRoute', (route) => {
    const schema = route.schema as { security?: unknown; hide?: boolean } | undefined;
    const mode = modeOf(schema?.security);
    if (!mode) return;
    if (schema?.hide) throw new Error(`${route.method} ${route.url}: an authenticated route must not be hidden`);
    if (!deps.tokens) throw new Error(`${route.method} ${route.url}: declares bearer security, but no token verifier`);
    const inTransaction = route.config?.sessionInTransaction === true;
    const step = authenticationStep(mode, deps.db, deps.tokens, inTransaction);
    const own =
      route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [step, ...own];
    if (inTransaction) {
      for (const method of [route.method].flat()) deferredRoutes.add(`${method} ${route.url}`);
      const sends = route.onSend === undefined ? [] : Array.isArray(route.onSend) ? route.onSend : [route.onSend];
      route.onSend = [refuseUncheckedSuccess, ...sends];
    }
  });
}

/** A deferred-check route answering 2xx/3xx without its transaction's liveness check: a bug, never sent. */
const refuseUncheckedSuccess: onSendHookHandler = async (request, reply, payload) => {
  if (reply.statusCode < 400 && pending.has(request))
    throw new Error(`${routeName(request)} answered without checking the session (sessionInTransaction)`);
  return payload;
};

function authenticationStep(
  mode: Mode,
  db: Database,
  tokens: TokenVerifier,
  inTransaction: boolean,
): onRequestHookHandler {
  return async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers.authorization;
    if (header === undefined) {
      if (mode === 'required') throw new AppError('unauthorized', 'sign in to continue');
      stepped.add(request);
      return;
    }
    try {
      const m = BEARER.exec(header);
      if (!m) throw new AppError('invalid_token', 'the access token is not valid');
      const claims = await tokens.verify(m[1]!);
      if (inTransaction) {
        // The route's transaction checks the session in its own set-up (scope.ts).
        pending.set(request, { caller: { sub: claims.sub, sid: claims.sid }, reply });
        stepped.add(request);
        return;
      }
      // The session's liveness, as the user herself (app.session_is_live reads her claims).
      await db.asUser(claims, async () => undefined, { requireLiveSession: true, readOnly: true });
      callers.set(request, { sub: claims.sub, sid: claims.sid });
      stepped.add(request);
    } catch (e) {
      if (e instanceof AppError && (e.code === 'invalid_token' || e.code === 'session_expired'))
        reply.header('www-authenticate', 'Bearer error="invalid_token"');
      throw e;
    }
  };
}

/** The caller of a route that went through the step; 401 on an optional route without a token. */
export function callerOf(request: FastifyRequest): Caller {
  const caller = optionalCallerOf(request);
  if (!caller) throw new AppError('unauthorized', 'sign in to continue');
  return caller;
}

/** The caller, or undefined when an optional-bearer route was called without a token. */
export function optionalCallerOf(request: FastifyRequest): Caller | undefined {
  if (!stepped.has(request))
    throw new Error(`${routeName(request)} reads the caller but does not declare security: [{ bearer: [] }]`);
  if (pending.has(request))
    throw new Error(`${routeName(request)} reads the caller before its transaction checked the session`);
  const caller = callers.get(request);
  return caller ? { ...caller } : undefined;
}

/**
 * For scope.ts only: the caller whose session the transaction about to open must check
 * (requireLiveSession), and what to do with that check's verdict. On a route without
 * sessionInTransaction the step has already checked it; the transaction checks again.
 */
export function callerForTransaction(request: FastifyRequest): {
  caller: Caller;
  checked(): void;
  ended(e: unknown): void;
} {
  const deferred = pending.get(request);
  if (!deferred) return { caller: callerOf(request), checked: () => undefined, ended: () => undefined };
  return {
    caller: { ...deferred.caller },
    checked() {
      if (pending.get(request) !== deferred) return;
      pending.delete(request);
      callers.set(request, deferred.caller);
    },
    ended(e) {
      if (e instanceof AppError && e.code === 'session_expired')
        deferred.reply.header('www-authenticate', 'Bearer error="invalid_token"');
    },
  };
}
