// The Google Business Profile REST calls Capto makes (docs/ARCHITECTURE.md §26), over plain
// fetch with the business's OAuth access token. Three Google hosts serve them:
// mybusinessaccountmanagement v1 (accounts), mybusinessbusinessinformation v1 (locations) and
// mybusiness v4 (local posts, reviews). GOOGLE_API_BASE is operator-level: at its default the
// real hosts are used; set to anything else (the loopback fake), that one base serves all three
// — their paths do not collide. No tenant input ever chooses a host.
//
// Errors keep only what decides the next step and what a person may read: the HTTP status,
// Google's status name and ErrorInfo reason, and the message (Google's own words about the
// request, never a token). `kind` says what to do: `auth` (refresh once, then reconnect),
// `transient` (retry with backoff), `permanent` (do not retry; show the reason).

export const DEFAULT_GOOGLE_API_BASE = 'https://www.googleapis.com';
const TIMEOUT_MS = 10_000;

export interface GbpHosts {
  accounts: string;
  information: string;
  v4: string;
}

export function gbpHosts(apiBase: string): GbpHosts {
  if (apiBase === DEFAULT_GOOGLE_API_BASE)
    return {
      accounts: 'https://mybusinessaccountmanagement.googleapis.com',
      information: 'https://mybusinessbusinessinformation.googleapis.com',
      v4: 'https://mybusiness.googleapis.com',
    };
  return { accounts: apiBase, information: apiBase, v4: apiBase };
}

export type GbpErrorKind = 'auth' | 'scope' | 'transient' | 'permanent';

export class GbpApiError extends Error {
  readonly status: number;
  readonly kind: GbpErrorKind;
  /** Google's ErrorInfo reason, else its status name (INVALID_ARGUMENT …), else `http_<status>`. */
  readonly reason: string;
  constructor(status: number, kind: GbpErrorKind, reason: string, message: string) {
    super(message);
    this.status = status;
    this.kind = kind;
    this.reason = reason;
    this.name = 'GbpApiError';
  }
}

export interface GbpAccount {
  name: string;
  accountName?: string;
  type?: string;
  role?: string;
}
export interface GbpLocation {
  name: string;
  title?: string;
  storefrontAddress?: { addressLines?: string[]; locality?: string; administrativeArea?: string; postalCode?: string };
  metadata?: { placeId?: string; mapsUri?: string; newReviewUri?: string };
}
export interface LocalPostBody {
  languageCode?: string;
  summary?: string;
  topicType: 'STANDARD' | 'EVENT' | 'OFFER';
  callToAction?: { actionType: string; url?: string };
  media?: { mediaFormat: 'PHOTO'; sourceUrl: string }[];
  event?: { title: string; schedule: { startDate: GDate; startTime?: GTime; endDate: GDate; endTime?: GTime } };
  offer?: { couponCode?: string; redeemOnlineUrl?: string; termsConditions?: string };
}
export interface GDate {
  year: number;
  month: number;
  day: number;
}
export interface GTime {
  hours: number;
  minutes: number;
}
export interface LocalPost extends LocalPostBody {
  name: string;
  state?: string;
  createTime?: string;
  updateTime?: string;
  searchUrl?: string;
}
export interface GbpReview {
  name: string;
  reviewId: string;
  reviewer?: { displayName?: string; isAnonymous?: boolean };
  starRating?: string;
  comment?: string;
  createTime?: string;
  updateTime?: string;
  reviewReply?: { comment: string; updateTime?: string };
}

function classify(status: number, reason: string): GbpErrorKind {
  if (status === 401) return 'auth';
  if (status === 403 && reason === 'ACCESS_TOKEN_SCOPE_INSUFFICIENT') return 'scope';
  if (status === 408 || status === 429 || status >= 500) return 'transient';
  return 'permanent';
}

export function createGbpClient(apiBase: string, doFetch: typeof fetch = fetch) {
  const hosts = gbpHosts(apiBase.replace(/\/+$/, ''));

  async function call<T>(token: string, method: string, url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'error',
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]) : AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (e) {
      // No answer: the request may or may not have reached Google (the caller reconciles).
      throw new GbpApiError(0, 'transient', 'unreachable', e instanceof Error ? e.name : 'network error');
    }
    const text = await res.text().catch(() => '');
    if (res.ok) return (text ? JSON.parse(text) : {}) as T;
    let reason = `http_${res.status}`;
    let message = `Google answered ${res.status}`;
    try {
      const err = (
        JSON.parse(text) as {
          error?: { message?: string; status?: string; details?: { '@type'?: string; reason?: string }[] };
        }
      ).error;
      const info = err?.details?.find((d) => d['@type']?.endsWith('google.rpc.ErrorInfo') && d.reason);
      reason = info?.reason ?? err?.status ?? reason;
      if (err?.message) message = err.message.slice(0, 500);
    } catch {
      // not JSON: keep the status
    }
    throw new GbpApiError(res.status, classify(res.status, reason), reason, message);
  }

  /** Every page of a list call. */
  async function all<T>(token: string, url: string, key: string, signal?: AbortSignal): Promise<T[]> {
    const out: T[] = [];
    let pageToken: string | undefined;
    for (let i = 0; i < 100; i++) {
      const u = new URL(url);
      if (pageToken) u.searchParams.set('pageToken', pageToken);
      const page = await call<Record<string, unknown>>(token, 'GET', u.href, undefined, signal);
      out.push(...((page[key] as T[] | undefined) ?? []));
      pageToken = page.nextPageToken as string | undefined;
      if (!pageToken) break;
    }
    return out;
  }

  const v4 = (parent: string) => `${hosts.v4}/v4/${parent}`;

  return {
    listAccounts: (token: string) => all<GbpAccount>(token, `${hosts.accounts}/v1/accounts?pageSize=20`, 'accounts'),
    listLocations: (token: string, account: string) =>
      all<GbpLocation>(
        token,
        `${hosts.information}/v1/${account}/locations?pageSize=100&readMask=name,title,storefrontAddress,metadata`,
        'locations',
      ),
    createPost: (token: string, parent: string, post: LocalPostBody, signal?: AbortSignal) =>
      call<LocalPost>(token, 'POST', `${v4(parent)}/localPosts`, post, signal),
    listPosts: (token: string, parent: string, signal?: AbortSignal) =>
      all<LocalPost>(token, `${v4(parent)}/localPosts?pageSize=100`, 'localPosts', signal),
    patchPost: (token: string, name: string, post: LocalPostBody, signal?: AbortSignal) =>
      call<LocalPost>(
        token,
        'PATCH',
        `${hosts.v4}/v4/${name}?updateMask=${encodeURIComponent(Object.keys(post).join(','))}`,
        post,
        signal,
      ),
    deletePost: (token: string, name: string, signal?: AbortSignal) =>
      call<object>(token, 'DELETE', `${hosts.v4}/v4/${name}`, undefined, signal),
    listReviews: (token: string, parent: string, signal?: AbortSignal) =>
      all<GbpReview>(token, `${v4(parent)}/reviews?pageSize=50`, 'reviews', signal),
    updateReply: (token: string, reviewName: string, comment: string) =>
      call<{ comment: string; updateTime?: string }>(token, 'PUT', `${hosts.v4}/v4/${reviewName}/reply`, { comment }),
  };
}

export type GbpClient = ReturnType<typeof createGbpClient>;
