// The contact trash: deleted contacts stay restorable for 30 days, then they are purged
// (docs/ARCHITECTURE.md §11 "Trash"). Owners and admins may delete one for good sooner.
import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, bpath, errorMessage, qs } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { formatDate, fullName } from '../components/format.ts';
import { LoadMore, usePagedList } from '../components/load-more.tsx';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import type { Contact } from './types.ts';

const TRASH_DAYS = 30;
const purgeDate = (deletedAt: string | null | undefined) =>
  deletedAt ? new Date(new Date(deletedAt).getTime() + TRASH_DAYS * 86_400_000).toISOString() : null;

export function ContactTrashPage() {
  const { bid, canManage } = useBusiness();
  const queryClient = useQueryClient();
  const [notice, setNotice] = useState<string | null>(null);
  const [purging, setPurging] = useState<Contact | null>(null);
  // Oldest last: those are the ones about to be purged, so every page must be reachable.
  const trash = usePagedList<Contact>({
    queryKey: ['contacts', bid, 'trash'],
    url: (cursor) => bpath(bid, 'contacts') + qs({ deleted: true, limit: 100, cursor }),
  });
  const refresh = async () => {
    await queryClient.invalidateQueries({ queryKey: ['contacts', bid] });
    await queryClient.invalidateQueries({ queryKey: ['contact', bid] });
    await queryClient.invalidateQueries({ queryKey: ['timeline', bid] });
  };
  const restore = useMutation({
    mutationFn: (c: Contact) => api(bpath(bid, 'contacts', c.id, 'restore'), { method: 'POST', body: {} }),
    onSuccess: async (_r, c) => {
      setNotice(`${fullName(c)} was restored.`);
      await refresh();
    },
  });
  const purge = useMutation({
    mutationFn: (c: Contact) => api(bpath(bid, 'contacts', c.id, 'permanent'), { method: 'DELETE' }),
    onSuccess: async (_r, c) => {
      setNotice(`${fullName(c)} was deleted for good.`);
      setPurging(null);
      await refresh();
    },
  });
  return (
    <>
      <p className="small">
        <Link to={`/b/${bid}/contacts`}>← Contacts</Link>
      </p>
      <h1>Trash</h1>
      <p className="muted">
        Deleted contacts stay here for {TRASH_DAYS} days, then they are deleted for good with their notes, tasks and
        messages.
      </p>
      {notice && <Alert kind="ok">{notice}</Alert>}
      {(restore.isError || purge.isError) && <Alert kind="error">{errorMessage(restore.error ?? purge.error)}</Alert>}
      <QueryView query={trash} loadingLabel="Loading the trash…">
        {(items) =>
          items.length === 0 ? (
            <Empty>The trash is empty.</Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table data-testid="trash-table">
                  <caption className="sr-only">Contacts in the trash</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Deleted</th>
                      <th scope="col">Deleted for good on</th>
                      <th scope="col">Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((c) => (
                      <tr key={c.id}>
                        <td>
                          <Link to={`/b/${bid}/contacts/${c.id}`}>{fullName(c)}</Link>
                        </td>
                        <td>{formatDate(c.deleted_at)}</td>
                        <td>{formatDate(purgeDate(c.deleted_at))}</td>
                        <td className="row">
                          <button type="button" onClick={() => restore.mutate(c)} disabled={restore.isPending}>
                            Restore {fullName(c)}
                          </button>
                          {canManage && (
                            <button type="button" className="danger" onClick={() => setPurging(c)}>
                              Delete {fullName(c)} for good
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <LoadMore list={trash} noun="deleted contacts" />
            </>
          )
        }
      </QueryView>
      <ConfirmDialog
        open={purging !== null}
        title="Delete this contact for good?"
        confirmLabel="Delete for good"
        busy={purge.isPending}
        onConfirm={() => purging && purge.mutate(purging)}
        onCancel={() => setPurging(null)}
      >
        <p>{purging ? fullName(purging) : ''}, their notes, tasks and messages are deleted and cannot be restored.</p>
      </ConfirmDialog>
    </>
  );
}
