// The typed way to call the API: openapi-fetch over the generated `paths`
// (web/src/api/schema.d.ts, written by `npm run gen:api` from the server's zod schemas), with
// the same bearer token and one refresh-and-retry on a 401 as api() in client.ts. Paths,
// parameters, bodies and responses are checked by the compiler against the server's
// description; `call` turns the error shape into an ApiError. Screens move from api<T>()
// to this client one call at a time.
import createClient from 'openapi-fetch';
import { currentAccessToken, refreshSession } from '../auth/session.ts';
import { apiErrorFrom } from './client.ts';
import type { paths } from './schema.d.ts';

function withToken(request: Request): Request {
  const token = currentAccessToken();
  if (token) request.headers.set('authorization', `Bearer ${token}`);
  return request;
}

async function authFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const res = await fetch(withToken(request));
  if (res.status === 401 && (await refreshSession())) return fetch(withToken(retry));
  return res;
}

export const typedApi = createClient<paths>({ fetch: authFetch, credentials: 'same-origin', cache: 'no-store' });

/**
 * The response body of an openapi-fetch call, or its ApiError thrown. openapi-fetch has read
 * the error body already (as `error`), so the code comes from that, not from the response.
 */
export async function call<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await pending;
  if (!response.ok) throw apiErrorFrom(response, error);
  return data as T;
}

type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;
type Success<O> = O extends { responses: infer Rs }
  ? 200 extends keyof Rs
    ? JsonOf<Rs[200]>
    : 201 extends keyof Rs
      ? JsonOf<Rs[201]>
      : never
  : never;

/** The JSON a successful call of `method path` answers, e.g. ApiResponse<'/api/me', 'get'>. */
export type ApiResponse<P extends keyof paths, M extends keyof paths[P]> = Success<paths[P][M]>;
