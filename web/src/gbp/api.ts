// Business Profile (docs/ARCHITECTURE.md §26) for the web app: the row types are the server's
// (web/src/api/schema.d.ts), the queries are shared by the location, posts and reviews panes.
import { useQuery } from '@tanstack/react-query';
import { ApiError } from '../api/client.ts';
import { call, typedApi, type ApiResponse } from '../api/typed.ts';
import type { paths } from '../api/schema.d.ts';

export type AttachedLocation = NonNullable<ApiResponse<'/api/businesses/{bid}/google/location', 'get'>['location']>;
export type AvailableLocation = ApiResponse<'/api/businesses/{bid}/google/locations', 'get'>['items'][number];
export type Post = ApiResponse<'/api/businesses/{bid}/google/posts', 'get'>['items'][number];
export type Review = ApiResponse<'/api/businesses/{bid}/google/reviews', 'get'>['items'][number];
type JsonBody<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody: { content: { 'application/json': infer B } };
}
  ? B
  : never;
export type PostBody = JsonBody<'/api/businesses/{bid}/google/posts', 'post'>;
export type PostPatch = JsonBody<'/api/businesses/{bid}/google/posts/{id}', 'patch'>;

/** Google's limit on a post's text (the server's check counts the same: the trimmed text). */
export const SUMMARY_LIMIT = 1500;

/** Answers that mean "fix the Google connection in Settings → Integrations". */
export const CONNECTION_CODES = new Set(['google_not_connected', 'google_scope_missing', 'google_reauth_required']);

export function isConnectionProblem(error: unknown): error is ApiError {
  return error instanceof ApiError && CONNECTION_CODES.has(error.code);
}

export function useAttachedLocation(bid: string) {
  return useQuery({
    queryKey: ['gbp-location', bid],
    queryFn: async () =>
      (await call(typedApi.GET('/api/businesses/{bid}/google/location', { params: { path: { bid } } }))).location,
  });
}

/** The business's time zone: scheduled times are typed and shown in it. */
export function useBusinessTimeZone(bid: string) {
  return useQuery({
    queryKey: ['gbp-time-zone', bid],
    queryFn: async () => (await call(typedApi.GET('/api/businesses/{bid}', { params: { path: { bid } } }))).time_zone,
    staleTime: 60_000,
  });
}
