export function Pager({
  page,
  hasMore,
  onPage,
  total,
  pageSize,
}: {
  page: number;
  hasMore: boolean;
  onPage: (page: number) => void;
  total?: number | null;
  pageSize: number;
}) {
  const pages = total != null ? Math.max(1, Math.ceil(total / pageSize)) : null;
  return (
    <nav className="pager" aria-label="Pagination">
      <span className="muted small">
        Page {page + 1}
        {pages != null ? ` of ${pages}` : ''}
        {total != null ? ` · ${total} total` : ''}
      </span>
      <button type="button" disabled={page === 0} onClick={() => onPage(page - 1)}>
        Previous
      </button>
      <button type="button" disabled={!hasMore} onClick={() => onPage(page + 1)}>
        Next
      </button>
    </nav>
  );
}
