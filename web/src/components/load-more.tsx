// Long lists load one keyset page at a time and grow with a "Load more" button
// (docs/ARCHITECTURE.md §20 "Long lists"): the server's opaque next_cursor is the only
// way past the first page, so a screen that drops it hides every older row.
import { useCallback, useRef } from 'react';
import { useInfiniteQuery, type InfiniteData, type QueryKey } from '@tanstack/react-query';
import { api, errorMessage } from '../api/client.ts';
import { toPage, type Page } from '../crm/types.ts';
import { Alert } from './states.tsx';

export interface PagedList<T> {
  /** Every row loaded so far, in the server's order; undefined until the first page arrives. */
  data: T[] | undefined;
  isPending: boolean;
  /** The first page failed (or a refetch did): a failed "Load more" is shown by <LoadMore>. */
  isError: boolean;
  error: unknown;
  refetch: () => unknown;
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  isFetchNextPageError: boolean;
  /** Resolves with whether yet another page remains. */
  fetchNextPage: () => Promise<boolean>;
  pages: number;
}

/**
 * Pages `url(cursor)` with useInfiniteQuery. Invalidating or refetching the key refetches
 * every loaded page from the first with fresh cursors, so a restored or removed row leaves
 * the list and the rows after it move up.
 */
export function usePagedList<T>({
  queryKey,
  url,
  itemsKey,
  enabled,
  refetchInterval,
}: {
  queryKey: QueryKey;
  url: (cursor: string | null) => string;
  /** the items' name when the answer is not {items} (toPage) */
  itemsKey?: string;
  enabled?: boolean;
  refetchInterval?: (rows: T[]) => number | false;
}): PagedList<T> {
  const flatten = useCallback((d: InfiniteData<Page<T>>) => d.pages.flatMap((p) => p.items), []);
  const q = useInfiniteQuery({
    queryKey,
    queryFn: async ({ pageParam }) => toPage<T>(await api(url(pageParam)), itemsKey),
    initialPageParam: null as string | null,
    getNextPageParam: (p) => p.nextCursor ?? undefined,
    enabled,
    refetchInterval: refetchInterval
      ? (query) => refetchInterval(query.state.data ? flatten(query.state.data) : [])
      : undefined,
  });
  const rows = q.data ? flatten(q.data) : undefined;
  return {
    data: rows,
    isPending: q.isPending,
    isError: q.isError && !q.isFetchNextPageError,
    error: q.error,
    refetch: q.refetch,
    hasNextPage: q.hasNextPage,
    isFetchingNextPage: q.isFetchingNextPage,
    isFetchNextPageError: q.isFetchNextPageError,
    fetchNextPage: async () => (await q.fetchNextPage()).hasNextPage,
    pages: q.data?.pages.length ?? 0,
  };
}

/**
 * "Showing 100 of 250 members" and a real button for the next page. Nothing is shown while
 * everything fits on the first page. When the last page arrives the button goes away and
 * the focus moves to the count, which a screen reader then reads, instead of falling to
 * the page's body.
 */
export function LoadMore<T>({
  list,
  total,
  noun,
  label = 'Load more',
  onLoad,
}: {
  list: PagedList<T>;
  /** how many there are in all, when the API says */
  total?: number | null;
  /** plural, e.g. "contacts" */
  noun: string;
  label?: string;
  /** called just before the next page is asked for */
  onLoad?: () => void;
}) {
  const status = useRef<HTMLParagraphElement>(null);
  const shown = list.data?.length ?? 0;
  if (!list.data || (!list.hasNextPage && list.pages <= 1)) return null;
  const more = async () => {
    if (list.isFetchingNextPage) return;
    onLoad?.();
    if (!(await list.fetchNextPage())) status.current?.focus();
  };
  return (
    <div className="load-more">
      <p className="muted small" role="status" tabIndex={-1} ref={status} data-testid="load-more-count">
        {list.hasNextPage
          ? `Showing ${shown}${total != null && total > shown ? ` of ${total}` : ''} ${noun}`
          : `Showing all ${shown} ${noun}`}
      </p>
      {list.hasNextPage && (
        // Not `disabled` while loading: a disabled button drops the keyboard focus.
        <button type="button" onClick={() => void more()} aria-busy={list.isFetchingNextPage}>
          {list.isFetchingNextPage ? 'Loading…' : label}
        </button>
      )}
      {list.isFetchNextPageError && <Alert kind="error">{errorMessage(list.error)}</Alert>}
    </div>
  );
}
