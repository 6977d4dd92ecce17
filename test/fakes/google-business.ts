// A local Google Business Profile API on loopback (docs/ARCHITECTURE.md §26): the calls Capto
// uses, with Google's paths, request and response shapes and error bodies, so the integration is
// tested over HTTP and not against a mock object. One base serves the three Google hosts (their
// paths do not collide):
//   GET  /v1/accounts                                          mybusinessaccountmanagement v1 accounts.list
//   GET  /v1/accounts/{a}/locations?readMask=…                 mybusinessbusinessinformation v1 accounts.locations.list
//   GET|POST /v4/accounts/{a}/locations/{l}/localPosts         mybusiness v4 localPosts.list / create
//   GET|PATCH|DELETE /v4/accounts/{a}/locations/{l}/localPosts/{p}   (PATCH takes ?updateMask=)
//   GET  /v4/accounts/{a}/locations/{l}/reviews                reviews.list
//   PUT|DELETE /v4/accounts/{a}/locations/{l}/reviews/{r}/reply  reviews.updateReply / deleteReply
// Every call needs `Authorization: Bearer <token>`: a token granted by the test (`grant`) or,
// with `trustIssuer`, a JWT access token of that OpenID provider (oauth2-mock-server) whose
// `scope` claim is checked — so a token refreshed by Capto is accepted without the test knowing
// it. Missing/unknown/revoked token → 401 UNAUTHENTICATED; no business.manage scope → 403
// PERMISSION_DENIED (ACCESS_TOKEN_SCOPE_INSUFFICIENT); injected failures answer 429/5xx/4xx in
// Google's `{error: {code, message, status, details: [ErrorInfo]}}` shape.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';

export const BUSINESS_MANAGE = 'https://www.googleapis.com/auth/business.manage';

export interface FakeAccount {
  name: string; // accounts/{id}
  accountName: string;
  type: 'PERSONAL' | 'LOCATION_GROUP' | 'USER_GROUP' | 'ORGANIZATION';
  role: 'PRIMARY_OWNER' | 'OWNER' | 'MANAGER' | 'SITE_MANAGER';
  verificationState: 'VERIFIED' | 'UNVERIFIED';
  vettedState: 'NOT_VETTED' | 'VETTED';
}

export interface FakeLocation {
  name: string; // locations/{id}
  title: string;
  storefrontAddress?: {
    regionCode: string;
    postalCode?: string;
    administrativeArea?: string;
    locality?: string;
    addressLines?: string[];
  };
  metadata: { placeId: string; mapsUri: string; newReviewUri: string };
}

export interface FakeLocalPost {
  name: string; // accounts/{a}/locations/{l}/localPosts/{p}
  languageCode?: string;
  summary?: string;
  callToAction?: { actionType: string; url?: string };
  media?: { mediaFormat: string; sourceUrl: string }[];
  topicType: 'STANDARD' | 'EVENT' | 'OFFER' | 'ALERT';
  event?: { title: string; schedule: Record<string, unknown> };
  offer?: { couponCode?: string; redeemOnlineUrl?: string; termsConditions?: string };
  state: 'LIVE' | 'PROCESSING' | 'REJECTED';
  createTime: string;
  updateTime: string;
  searchUrl: string;
}

export interface FakeReview {
  name: string; // accounts/{a}/locations/{l}/reviews/{r}
  reviewId: string;
  reviewer: { displayName: string; profilePhotoUrl?: string; isAnonymous?: boolean };
  starRating: 'ONE' | 'TWO' | 'THREE' | 'FOUR' | 'FIVE';
  comment?: string;
  createTime: string;
  updateTime: string;
  reviewReply?: { comment: string; updateTime: string };
}

export interface InjectedFailure {
  status: number;
  /** Only requests whose method and path match (default: any). */
  method?: string;
  path?: RegExp;
  /** Google's ErrorInfo reason (default by status). */
  reason?: string;
  message?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  token: string;
  body: unknown;
}

export interface GoogleBusinessFake {
  url: string;
  accounts: FakeAccount[];
  /** Locations by account name. */
  locations: Map<string, FakeLocation[]>;
  /** Posts by location parent `accounts/{a}/locations/{l}`. */
  posts: Map<string, FakeLocalPost[]>;
  reviews: Map<string, FakeReview[]>;
  requests: RecordedRequest[];
  /** Accept this bearer token (with these scopes; default business.manage). */
  grant(token: string, scopes?: string[]): void;
  /** Tokens answered 401 from now on (a revoked grant). */
  revoke(token: string): void;
  /** Verify JWT access tokens of this OpenID issuer (its JWKS) instead of listing them. */
  trustIssuer(issuer: string): void;
  /** Revoke every token, granted or issued (the user removed Capto's access at Google). */
  revokeAll(): void;
  /** Answer the next matching request(s) with this failure instead. */
  failNext(failure: InjectedFailure, times?: number): void;
  /** Create the next local post, then drop the connection without answering (a lost answer). */
  loseAnswerNextCreate: boolean;
  /** Add an account with one location; returns the location's v4 parent. */
  addAccountWithLocation(input?: { accountName?: string; title?: string }): {
    account: FakeAccount;
    location: FakeLocation;
    parent: string;
  };
  addReview(parent: string, input: Partial<FakeReview> & { starRating: FakeReview['starRating'] }): FakeReview;
  close(): Promise<void>;
}

const STATUS_NAME: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  502: 'INTERNAL',
  503: 'UNAVAILABLE',
};
const DEFAULT_REASON: Record<number, string> = {
  401: 'ACCESS_TOKEN_EXPIRED',
  403: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
  429: 'RATE_LIMIT_EXCEEDED',
};
const CTA_TYPES = new Set(['BOOK', 'ORDER', 'SHOP', 'LEARN_MORE', 'SIGN_UP', 'CALL']);
const TOPIC_TYPES = new Set(['STANDARD', 'EVENT', 'OFFER', 'ALERT']);
const PAGE = 2; // small pages, so clients must follow nextPageToken

const digits = (n: number) => String(BigInt(`0x${randomBytes(8).toString('hex')}`) % 10n ** BigInt(n)).padStart(n, '1');

export async function startGoogleBusinessFake(options: { port?: number } = {}): Promise<GoogleBusinessFake> {
  const granted = new Map<string, string[]>();
  const revoked = new Set<string>();
  let revokedBefore = 0; // JWTs issued (iat) before this second are revoked
  let jwks: { issuer: string; keys: ReturnType<typeof createRemoteJWKSet> } | undefined;
  const failures: InjectedFailure[] = [];

  const fake: GoogleBusinessFake = {
    url: '',
    accounts: [],
    locations: new Map(),
    posts: new Map(),
    reviews: new Map(),
    requests: [],
    loseAnswerNextCreate: false,
    grant(token, scopes = [BUSINESS_MANAGE]) {
      granted.set(token, scopes);
      revoked.delete(token);
    },
    revoke(token) {
      revoked.add(token);
    },
    trustIssuer(issuer) {
      jwks = { issuer, keys: createRemoteJWKSet(new URL(`${issuer.replace(/\/$/, '')}/jwks`)) };
    },
    revokeAll() {
      for (const t of granted.keys()) revoked.add(t);
      revokedBefore = Math.floor(Date.now() / 1000) + 1;
    },
    failNext(failure, times = 1) {
      for (let i = 0; i < times; i++) failures.push(failure);
    },
    addAccountWithLocation(input = {}) {
      const accountId = digits(12);
      const locationId = digits(14);
      const account: FakeAccount = {
        name: `accounts/${accountId}`,
        accountName: input.accountName ?? 'Lakeside Lending',
        type: 'PERSONAL',
        role: 'PRIMARY_OWNER',
        verificationState: 'VERIFIED',
        vettedState: 'NOT_VETTED',
      };
      const placeId = `ChIJ${randomBytes(10).toString('base64url')}`;
      const location: FakeLocation = {
        name: `locations/${locationId}`,
        title: input.title ?? 'Lakeside Lending — Downtown',
        storefrontAddress: {
          regionCode: 'US',
          postalCode: '60601',
          administrativeArea: 'IL',
          locality: 'Chicago',
          addressLines: ['100 N Lake St'],
        },
        metadata: {
          placeId,
          mapsUri: `https://maps.google.com/maps?cid=${locationId}`,
          newReviewUri: `https://search.google.com/local/writereview?placeid=${placeId}`,
        },
      };
      fake.accounts.push(account);
      fake.locations.set(account.name, [...(fake.locations.get(account.name) ?? []), location]);
      const parent = `${account.name}/locations/${locationId}`;
      fake.posts.set(parent, []);
      fake.reviews.set(parent, []);
      return { account, location, parent };
    },
    addReview(parent, input) {
      const reviewId = input.reviewId ?? randomBytes(12).toString('base64url');
      const now = new Date().toISOString();
      const review: FakeReview = {
        name: `${parent}/reviews/${reviewId}`,
        reviewer: { displayName: 'A borrower' },
        createTime: now,
        updateTime: now,
        ...input,
        reviewId,
      };
      fake.reviews.set(parent, [review, ...(fake.reviews.get(parent) ?? [])]);
      return review;
    },
    close: async () => undefined,
  };

  async function scopesOf(token: string): Promise<string[] | undefined> {
    if (!token || revoked.has(token)) return undefined;
    const listed = granted.get(token);
    if (listed) return listed;
    if (!jwks) return undefined;
    try {
      const { payload } = await jwtVerify(token, jwks.keys, { issuer: jwks.issuer });
      if ((payload.iat ?? 0) < revokedBefore) return undefined;
      return typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    } catch {
      return undefined;
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8')).catch(() => {
        if (!res.headersSent) error(res, 500, 'internal error');
      });
    });
  });

  function json(res: http.ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  }
  function error(res: http.ServerResponse, status: number, message: string, reason?: string) {
    const r = reason ?? DEFAULT_REASON[status];
    json(res, status, {
      error: {
        code: status,
        message,
        status: STATUS_NAME[status] ?? 'UNKNOWN',
        ...(r
          ? {
              details: [
                {
                  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
                  reason: r,
                  domain: 'googleapis.com',
                  metadata: { service: 'mybusiness.googleapis.com' },
                },
              ],
            }
          : {}),
      },
    });
  }
  function page<T>(items: T[], url: URL): { items: T[]; next?: string } {
    const size = Math.max(1, Math.min(Number(url.searchParams.get('pageSize') ?? PAGE) || PAGE, PAGE));
    const start = Number(url.searchParams.get('pageToken') ?? 0) || 0;
    const slice = items.slice(start, start + size);
    return { items: slice, next: start + size < items.length ? String(start + size) : undefined };
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    let body: unknown = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return error(res, 400, 'Invalid JSON payload received.');
      }
    }
    fake.requests.push({ method, path: url.pathname + url.search, token, body });
    const scopes = await scopesOf(token);
    if (!scopes)
      return error(
        res,
        401,
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        token ? 'ACCESS_TOKEN_EXPIRED' : 'CREDENTIALS_MISSING',
      );
    if (!scopes.includes(BUSINESS_MANAGE))
      return error(res, 403, 'Request had insufficient authentication scopes.', 'ACCESS_TOKEN_SCOPE_INSUFFICIENT');
    const i = failures.findIndex((f) => (!f.method || f.method === method) && (!f.path || f.path.test(url.pathname)));
    if (i >= 0) {
      const f = failures.splice(i, 1)[0]!;
      return error(res, f.status, f.message ?? `injected ${f.status}`, f.reason);
    }

    let m: RegExpExecArray | null;
    if (method === 'GET' && url.pathname === '/v1/accounts') {
      const p = page(fake.accounts, url);
      return json(res, 200, { accounts: p.items, ...(p.next ? { nextPageToken: p.next } : {}) });
    }
    if ((m = /^\/v1\/(accounts\/[0-9]+)\/locations$/.exec(url.pathname)) && method === 'GET') {
      const mask = url.searchParams.get('readMask');
      if (!mask) return error(res, 400, 'Request contains an invalid argument.', 'INVALID_ARGUMENT');
      if (!fake.accounts.some((a) => a.name === m![1])) return error(res, 404, 'Requested entity was not found.');
      const fields = mask.split(',').map((f) => f.trim());
      const p = page(fake.locations.get(m[1]!) ?? [], url);
      const masked = p.items.map((l) => Object.fromEntries(Object.entries(l).filter(([k]) => fields.includes(k))));
      return json(res, 200, { locations: masked, ...(p.next ? { nextPageToken: p.next } : {}) });
    }
    if ((m = /^\/v4\/(accounts\/[0-9]+\/locations\/[0-9]+)\/localPosts(?:\/([A-Za-z0-9_-]+))?$/.exec(url.pathname))) {
      const parent = m[1]!;
      const posts = fake.posts.get(parent);
      if (!posts) return error(res, 404, 'Requested entity was not found.');
      const postId = m[2];
      if (!postId && method === 'GET') {
        const p = page(posts, url);
        return json(res, 200, { localPosts: p.items, ...(p.next ? { nextPageToken: p.next } : {}) });
      }
      if (!postId && method === 'POST') {
        const problem = invalidPost(body);
        if (problem) return error(res, 400, problem, 'INVALID_ARGUMENT');
        const now = new Date().toISOString();
        const id = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
        const post: FakeLocalPost = {
          ...(body as Omit<FakeLocalPost, 'name' | 'state' | 'createTime' | 'updateTime' | 'searchUrl'>),
          name: `${parent}/localPosts/${id}`,
          state: 'LIVE',
          createTime: now,
          updateTime: now,
          searchUrl: `https://local.google.com/place?id=${parent.split('/')[3]}&use=posts&lpsid=${id}`,
        };
        posts.unshift(post);
        if (fake.loseAnswerNextCreate) {
          fake.loseAnswerNextCreate = false;
          return void req.socket.destroy();
        }
        return json(res, 200, post);
      }
      const post = posts.find((p) => p.name === `${parent}/localPosts/${postId}`);
      if (!post) return error(res, 404, 'Requested entity was not found.');
      if (method === 'GET') return json(res, 200, post);
      if (method === 'DELETE') {
        posts.splice(posts.indexOf(post), 1);
        return json(res, 200, {});
      }
      if (method === 'PATCH') {
        const mask = url.searchParams.get('updateMask');
        if (!mask) return error(res, 400, 'updateMask is required', 'INVALID_ARGUMENT');
        const next = { ...post, ...(body as object) } as FakeLocalPost;
        const problem = invalidPost(next);
        if (problem) return error(res, 400, problem, 'INVALID_ARGUMENT');
        for (const f of mask.split(',')) {
          const k = f.trim() as keyof FakeLocalPost;
          (post as unknown as Record<string, unknown>)[k] = (body as Record<string, unknown>)[k];
        }
        post.updateTime = new Date().toISOString();
        return json(res, 200, post);
      }
      return error(res, 404, 'Not Found');
    }
    if (
      (m = /^\/v4\/(accounts\/[0-9]+\/locations\/[0-9]+)\/reviews(?:\/([A-Za-z0-9_-]+)\/reply)?$/.exec(url.pathname))
    ) {
      const reviews = fake.reviews.get(m[1]!);
      if (!reviews) return error(res, 404, 'Requested entity was not found.');
      if (!m[2] && method === 'GET') {
        const p = page(reviews, url);
        const rated = reviews.map((r) => ['ONE', 'TWO', 'THREE', 'FOUR', 'FIVE'].indexOf(r.starRating) + 1);
        return json(res, 200, {
          reviews: p.items,
          averageRating: rated.length ? rated.reduce((a, b) => a + b, 0) / rated.length : 0,
          totalReviewCount: reviews.length,
          ...(p.next ? { nextPageToken: p.next } : {}),
        });
      }
      const review = reviews.find((r) => r.reviewId === m![2]);
      if (!review) return error(res, 404, 'Requested entity was not found.');
      if (method === 'PUT') {
        const comment = (body as { comment?: unknown } | undefined)?.comment;
        if (typeof comment !== 'string' || comment.length === 0 || comment.length > 4096)
          return error(res, 400, 'Request contains an invalid argument.', 'INVALID_ARGUMENT');
        review.reviewReply = { comment, updateTime: new Date().toISOString() };
        return json(res, 200, review.reviewReply);
      }
      if (method === 'DELETE') {
        delete review.reviewReply;
        return json(res, 200, {});
      }
    }
    return error(res, 404, 'Not Found');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return fake;
}

/** Google's rules for a LocalPost that Capto can meet (the rest is not modelled). */
function invalidPost(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return 'Request contains an invalid argument.';
  const p = body as Partial<FakeLocalPost>;
  if (!p.topicType || !TOPIC_TYPES.has(p.topicType)) return 'topicType is required';
  if (p.summary !== undefined && (typeof p.summary !== 'string' || p.summary.length > 1500))
    return 'summary must be at most 1500 characters';
  if (p.callToAction) {
    if (!CTA_TYPES.has(p.callToAction.actionType)) return 'callToAction.actionType is invalid';
    if (p.callToAction.actionType !== 'CALL' && !/^https?:\/\//.test(p.callToAction.url ?? ''))
      return 'callToAction.url is invalid';
  }
  if ((p.topicType === 'EVENT' || p.topicType === 'OFFER') && (!p.event?.title || !p.event.schedule))
    return 'event.title and event.schedule are required';
  for (const media of p.media ?? [])
    if (media.mediaFormat !== 'PHOTO' || !/^https?:\/\//.test(media.sourceUrl)) return 'media is invalid';
  return undefined;
}
