// The browser half of P8. The access token lives in this module's memory only — never
// localStorage/sessionStorage, where any injected script could read it after the tab
// closes. The refresh token is the HttpOnly `capto_refresh` cookie (Path=/auth), so the
// only way to a new access token is POST /auth/token, which ROTATES that cookie.
//
// Race this prevents: two tabs wake up and refresh with the same cookie at once; the
// server sees the second use of a rotated token as theft and revokes the whole session
// (reuse detection). So every refresh, in every tab, runs under one Web Lock
// (`navigator.locks`, shared by all same-origin tabs): the second tab waits, then sends
// the cookie the first tab's response already rotated. BroadcastChannel carries
// sign-in/sign-out to the other tabs (never a token).
import { sessionChannel, type SessionMessage } from './channel.ts';

export interface SessionUser {
  id: string;
  email: string;
  email_verified?: boolean;
  [key: string]: unknown;
}

export interface TokenResponse {
  access_token: string;
  token_type?: string;
  expires_in: number;
  user?: SessionUser;
}

export type SessionStatus = 'unknown' | 'signed-in' | 'signed-out';

export interface SessionSnapshot {
  status: SessionStatus;
  user: SessionUser | null;
}

const LOCK_NAME = 'capto-refresh-token';
/** Refresh this long before expiry so a request never leaves with a dying token. */
const REFRESH_MARGIN_MS = 60_000;

let accessToken: string | null = null;
let expiresAt = 0;
let snapshot: SessionSnapshot = { status: 'unknown', user: null };
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let inflight: Promise<boolean> | null = null;
const listeners = new Set<() => void>();
const signOutHandlers = new Set<() => void>();

function publish(next: SessionSnapshot): void {
  snapshot = next;
  for (const l of listeners) l();
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function getSnapshot(): SessionSnapshot {
  return snapshot;
}

export function currentAccessToken(): string | null {
  return accessToken;
}

/** Called on every local or remote sign-out (e.g. to clear the query cache). */
export function onSignedOut(handler: () => void): () => void {
  signOutHandlers.add(handler);
  return () => signOutHandlers.delete(handler);
}

/** Adopt a token response from sign-in, sign-up, the demo or a refresh. */
export function acceptTokens(body: TokenResponse, { announce = true } = {}): void {
  accessToken = body.access_token;
  const ttlMs = Math.max(5, body.expires_in) * 1000;
  expiresAt = Date.now() + ttlMs;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refreshSession(), Math.max(5_000, ttlMs - REFRESH_MARGIN_MS));
  const wasSignedIn = snapshot.status === 'signed-in';
  publish({ status: 'signed-in', user: body.user ?? snapshot.user });
  if (announce && !wasSignedIn) sessionChannel.post({ type: 'signed-in' });
}

function clearLocal(): void {
  const hadSession = snapshot.status === 'signed-in';
  accessToken = null;
  expiresAt = 0;
  clearTimeout(refreshTimer);
  refreshTimer = undefined;
  publish({ status: 'signed-out', user: null });
  // Only an actual sign-out wipes caches: the first probe of a visitor without a session
  // must not clear queries that public pages (e.g. security.txt) have in flight.
  if (hadSession) for (const h of signOutHandlers) h();
}

async function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  // Web Locks exist in every browser Capto supports; without them (very old browsers)
  // the in-tab single flight still holds, and a cross-tab race costs a sign-in, not data.
  if (typeof navigator !== 'undefined' && navigator.locks) {
    return navigator.locks.request(LOCK_NAME, { mode: 'exclusive' }, fn) as Promise<T>;
  }
  return fn();
}

async function doRefresh(): Promise<boolean> {
  return withRefreshLock(async () => {
    let res: Response;
    try {
      // optional=1: without a refresh cookie the answer is 204 (signed out), not a 401
      // that the browser would log as an error on every signed-out page load.
      res = await fetch('/auth/token?optional=1', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { accept: 'application/json', 'content-type': 'application/json' },
        body: '{}',
        cache: 'no-store',
      });
    } catch {
      // Network trouble is not a sign-out: keep the session and retry soon.
      if (snapshot.status === 'unknown') publish({ status: 'signed-out', user: null });
      else {
        clearTimeout(refreshTimer);
        refreshTimer = setTimeout(() => void refreshSession(), 15_000);
      }
      return false;
    }
    if (res.ok && res.status !== 204) {
      acceptTokens((await res.json()) as TokenResponse, { announce: false });
      return true;
    }
    clearLocal();
    return false;
  });
}

/** Refresh once per tab at a time; concurrent callers share the same attempt. */
export function refreshSession(): Promise<boolean> {
  inflight ??= doRefresh().finally(() => {
    inflight = null;
  });
  return inflight;
}

/** On page load: the cookie (if any) is the only thing that survives a reload. */
export function restoreSession(): Promise<boolean> {
  return refreshSession();
}

export async function signOut({ everywhere = false } = {}): Promise<void> {
  const token = accessToken;
  const url = `/auth/signout${everywhere ? '?scope=global' : ''}`;
  const post = (bearer: string | null) =>
    fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), 'content-type': 'application/json' },
      body: '{}',
    });
  try {
    await withRefreshLock(async () => {
      // An expired bearer is refused before the route runs; the refresh cookie alone
      // still identifies the session to end, so fall back to it.
      const res = await post(token);
      if (res.status === 401 && token) await post(null);
    });
  } catch {
    /* offline: still forget everything locally */
  }
  clearLocal();
  sessionChannel.post({ type: 'signed-out' });
}

sessionChannel.listen((message: SessionMessage) => {
  if (message.type === 'signed-out' && snapshot.status !== 'signed-out') clearLocal();
  // Another tab signed in: the cookie jar now holds a refresh token for us too.
  if (message.type === 'signed-in' && snapshot.status !== 'signed-in') void refreshSession();
});

// Background tabs have their timers throttled: when the tab comes back, refresh if the
// token is about to expire instead of letting the next request take a 401 first.
if (typeof document !== 'undefined') {
  document.addEventListener('visibilitychange', () => {
    if (
      document.visibilityState === 'visible' &&
      snapshot.status === 'signed-in' &&
      Date.now() > expiresAt - REFRESH_MARGIN_MS
    ) {
      void refreshSession();
    }
  });
}
