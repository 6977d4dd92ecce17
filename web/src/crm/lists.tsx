import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { api, bpath, errorMessage, qs } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { TextField } from '../components/field.tsx';
import { fullName } from '../components/format.ts';
import { LoadMore, usePagedList } from '../components/load-more.tsx';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import { useLists } from './contacts.tsx';
import { humanize, type Contact } from './types.ts';

export function ListsPage() {
  const { bid } = useBusiness();
  const queryClient = useQueryClient();
  const lists = useLists(bid);
  const [name, setName] = useState('');
  const create = useMutation({
    mutationFn: () => api(bpath(bid, 'lists'), { body: { name: name.trim() } }),
    onSuccess: async () => {
      setName('');
      await queryClient.invalidateQueries({ queryKey: ['lists', bid] });
    },
  });
  return (
    <>
      <h1>Lists</h1>
      <form
        className="inline-form card"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          if (name.trim()) create.mutate();
        }}
      >
        <TextField
          label="New list name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="e.g. Spring first-time buyers"
        />
        <button type="submit" className="primary" disabled={create.isPending || !name.trim()}>
          Create list
        </button>
      </form>
      {create.isError && <Alert kind="error">{errorMessage(create.error)}</Alert>}
      <QueryView query={lists}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No lists yet. Lists group contacts for follow-ups and campaigns.</Empty>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">List</th>
                    <th scope="col">Contacts</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((l) => (
                    <tr key={l.id}>
                      <td>
                        <Link to={`/b/${bid}/lists/${l.id}`}>{l.name}</Link>
                      </td>
                      <td>{l.member_count ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
    </>
  );
}

export function ListDetail() {
  const { bid } = useBusiness();
  const { lid = '' } = useParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const lists = useLists(bid);
  const list = lists.data?.find((l) => l.id === lid);
  const [confirm, setConfirm] = useState(false);
  const members = usePagedList<Contact>({
    queryKey: ['list-members', bid, lid],
    url: (cursor) => bpath(bid, 'lists', lid, 'members') + qs({ limit: 200, cursor }),
  });
  const removeMember = useMutation({
    mutationFn: (cid: string) =>
      api(bpath(bid, 'lists', lid, 'members'), { method: 'DELETE', body: { contact_ids: [cid] } }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['list-members', bid, lid] });
      await queryClient.invalidateQueries({ queryKey: ['lists', bid] });
    },
  });
  const removeList = useMutation({
    mutationFn: () => api(bpath(bid, 'lists', lid), { method: 'DELETE' }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['lists', bid] });
      navigate(`/b/${bid}/lists`);
    },
  });
  return (
    <>
      <p className="small">
        <Link to={`/b/${bid}/lists`}>← Lists</Link>
      </p>
      <div className="row-between">
        <h1>{list?.name ?? 'List'}</h1>
        <button type="button" onClick={() => setConfirm(true)}>
          Delete list
        </button>
      </div>
      {(removeMember.isError || removeList.isError) && (
        <Alert kind="error">{errorMessage(removeMember.error ?? removeList.error)}</Alert>
      )}
      <QueryView query={members}>
        {(items) =>
          items.length === 0 ? (
            <Empty>
              No contacts on this list. Select contacts in the <Link to={`/b/${bid}/contacts`}>contacts table</Link> and
              choose “Add to list”.
            </Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table data-testid="list-members">
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Email</th>
                      <th scope="col">Status</th>
                      <th scope="col">
                        <span className="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((c) => {
                      const id = c.id;
                      return (
                        <tr key={id}>
                          <td>
                            <Link to={`/b/${bid}/contacts/${id}`}>{fullName(c)}</Link>
                          </td>
                          <td>{c.email ?? '—'}</td>
                          <td>{humanize(c.status)}</td>
                          <td>
                            <button type="button" onClick={() => removeMember.mutate(id)}>
                              Remove<span className="sr-only"> {fullName(c)}</span>
                            </button>
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
              <LoadMore list={members} total={list?.member_count} noun="members" />
            </>
          )
        }
      </QueryView>
      <ConfirmDialog
        open={confirm}
        title="Delete this list?"
        confirmLabel="Delete list"
        busy={removeList.isPending}
        onConfirm={() => removeList.mutate()}
        onCancel={() => setConfirm(false)}
      >
        <p>The contacts stay in Capto; only the list goes away.</p>
      </ConfirmDialog>
    </>
  );
}
