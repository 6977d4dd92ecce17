// The one way the SPA talks to the API: JSON in and out, the bearer token from memory,
// one transparent refresh-and-retry on a 401 (the access token may have expired
// between the scheduled refresh and this call), and the server's stable error shape
// {"error":{"code","message"}} surfaced as an ApiError the screens can branch on.
import { currentAccessToken, refreshSession } from '../auth/session.ts';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface ApiOptions {
  method?: string;
  body?: unknown;
  /** A raw body (e.g. CSV text) sent with its own content type. */
  raw?: { data: BodyInit; contentType: string };
  signal?: AbortSignal;
  /** Send the bearer token (default true). Public endpoints set false. */
  auth?: boolean;
}

async function send(path: string, options: ApiOptions, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let body: BodyInit | undefined;
  if (options.raw) {
    headers['content-type'] = options.raw.contentType;
    body = options.raw.data;
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(path, {
    method: options.method ?? (body !== undefined ? 'POST' : 'GET'),
    headers,
    body,
    signal: options.signal,
    credentials: 'same-origin',
    cache: 'no-store',
  });
}

export async function toApiError(res: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    /* not JSON: keep the status text */
  }
  return apiErrorFrom(res, body);
}

/** The ApiError of a failed response whose body was already read (`body`: its JSON, if any). */
export function apiErrorFrom(res: Response, body: unknown): ApiError {
  let code = `http_${res.status}`;
  let message = res.statusText || 'Request failed';
  const json = (body && typeof body === 'object' ? body : {}) as {
    error?: { code?: string; message?: string; details?: unknown };
  };
  if (json.error?.code) code = json.error.code;
  if (json.error?.message) message = json.error.message;
  // The server spreads safe extras (e.g. existing_id of a duplicate) into the error object.
  const details = json.error?.details ?? json.error;
  return new ApiError(res.status, code, message, details);
}

export async function apiResponse(path: string, options: ApiOptions = {}): Promise<Response> {
  const useAuth = options.auth !== false;
  let res = await send(path, options, useAuth ? currentAccessToken() : null);
  if (res.status === 401 && useAuth) {
    if (await refreshSession()) res = await send(path, options, currentAccessToken());
  }
  if (!res.ok) throw await toApiError(res);
  return res;
}

export async function api<T>(path: string, options: ApiOptions = {}): Promise<T> {
  const res = await apiResponse(path, options);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Path segments are always encoded: ids come from URLs the user can edit. */
export function bpath(bid: string, ...parts: string[]): string {
  return `/api/businesses/${encodeURIComponent(bid)}${parts.map((p) => `/${encodeURIComponent(p)}`).join('')}`;
}

export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
  const s = search.toString();
  return s ? `?${s}` : '';
}

// Sentences for people: the server phrases validation failures itself (docs/ARCHITECTURE.md
// §20 "Errors for people"); a few stable codes get a sentence that says what to do next.
const BY_CODE: Record<string, string> = {
  invalid_phone: 'That phone number does not look right. Type it as (202) 456-1111, or +44 20 7946 0958 abroad.',
  invalid_email: 'That email address does not look right. Check it for typos, like name@example.com.',
  duplicate_contact: 'A contact with this email or phone already exists.',
  no_twilio_config: 'Connect a Twilio number in Settings → Integrations before texting.',
  contact_opted_out: 'This contact replied STOP to your number, so texts to them are blocked until they reply START.',
  demo_restricted: 'The demo workspace cannot do this. Create your own account to try it for real.',
  rate_limited: 'Too many attempts in a short time. Wait a minute and try again.',
  session_expired: 'Your session ended. Sign in again to continue.',
};

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    const sentence = BY_CODE[error.code];
    if (sentence) return sentence;
    if (error.status >= 500) return 'Something went wrong on our side. Try again in a moment.';
    const m = error.message.trim();
    if (!m) return 'That did not work.';
    return m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? '' : '.');
  }
  if (error instanceof Error) return error.message;
  return 'Something went wrong.';
}
