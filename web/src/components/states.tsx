// Loading, empty and error states: every query-backed screen renders one of these
// instead of a blank area, so a slow or failing API is always visible to the user.
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { ApiError, errorMessage } from '../api/client.ts';

/** What a 404 means on a screen that shows one record, and the way back from it. */
export interface NotFoundInfo {
  what: string;
  back: string;
  backLabel: string;
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {label}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state">{children}</div>;
}

export function ErrorState({
  error,
  retry,
  notFound,
}: {
  error: unknown;
  retry?: () => void;
  notFound?: NotFoundInfo;
}) {
  if (error instanceof ApiError && error.status === 404 && (notFound || error.code === 'not_found')) {
    return (
      <div className="card" role="alert" data-testid="not-found">
        <h1>{notFound ? `This ${notFound.what} was not found` : 'Not found'}</h1>
        <p>
          It may have been deleted, or the link is wrong.{' '}
          {notFound ? <Link to={notFound.back}>{notFound.backLabel}</Link> : <Link to="/app">Back to Capto</Link>}
        </p>
      </div>
    );
  }
  const notAvailable = error instanceof ApiError && (error.status === 404 || error.status === 405);
  // The demo workspace's refusals are final: trying again would only fail again.
  const final = error instanceof ApiError && error.code === 'demo_restricted';
  return (
    <div className="alert alert-error" role="alert">
      <p>{notAvailable ? 'This feature is not available on this server yet.' : errorMessage(error)}</p>
      {retry && !final && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Alert({ kind, children }: { kind: 'error' | 'ok' | 'warn' | 'info'; children: ReactNode }) {
  return (
    <div className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/** Renders loading / error / content for a TanStack query result. */
export function QueryView<T>({
  query,
  children,
  loadingLabel,
  notFound,
}: {
  query: { isPending: boolean; isError: boolean; error: unknown; data: T | undefined; refetch: () => unknown };
  children: (data: T) => ReactNode;
  loadingLabel?: string;
  notFound?: NotFoundInfo;
}) {
  if (query.isPending) return <Loading label={loadingLabel} />;
  if (query.isError) return <ErrorState error={query.error} retry={() => void query.refetch()} notFound={notFound} />;
  return <>{children(query.data as T)}</>;
}
