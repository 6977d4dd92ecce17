// Notes and tasks attached to a contact.
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, bpath, errorMessage, qs } from '../api/client.ts';
import { TextArea, TextField } from '../components/field.tsx';
import { formatDate, formatDateTime } from '../components/format.ts';
import { LoadMore, usePagedList } from '../components/load-more.tsx';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import { useMe } from '../app/me.ts';
import { toPage, type Note, type Task } from './types.ts';

/** One note; its author can edit it in place (the notes policy allows only the author). */
function NoteItem({
  bid,
  note,
  mine,
  onSaved,
}: {
  bid: string;
  note: Note;
  mine: boolean;
  onSaved: () => Promise<void>;
}) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(note.body);
  const save = useMutation({
    mutationFn: () => api(bpath(bid, 'notes', note.id), { method: 'PATCH', body: { body: text } }),
    onSuccess: async () => {
      setEditing(false);
      await onSaved();
    },
  });
  if (editing) {
    return (
      <li>
        <form
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            if (text.trim()) save.mutate();
          }}
        >
          {save.isError && <Alert kind="error">{errorMessage(save.error)}</Alert>}
          <TextArea label="Edit note" value={text} onChange={(e) => setText(e.target.value)} />
          <div className="row">
            <button type="submit" className="primary" disabled={save.isPending || !text.trim()}>
              Save note
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      </li>
    );
  }
  return (
    <li>
      <div className="pre-wrap">{note.body}</div>
      <div className="small muted">
        {formatDateTime(note.created_at)}
        {mine && (
          <>
            {' · '}
            <button type="button" className="link-button" onClick={() => setEditing(true)}>
              Edit note
            </button>
          </>
        )}
      </div>
    </li>
  );
}

function Notes({ bid, cid }: { bid: string; cid: string }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [body, setBody] = useState('');
  const key = ['notes', bid, cid];
  const notes = usePagedList<Note>({
    queryKey: key,
    url: (cursor) => bpath(bid, 'contacts', cid, 'notes') + qs({ limit: 50, cursor }),
  });
  const add = useMutation({
    mutationFn: () => api(bpath(bid, 'contacts', cid, 'notes'), { body: { body } }),
    onSuccess: async () => {
      setBody('');
      await queryClient.invalidateQueries({ queryKey: key });
      await queryClient.invalidateQueries({ queryKey: ['timeline', bid, cid] });
    },
  });
  return (
    <section className="card" aria-labelledby="notes-h">
      <h2 id="notes-h">Notes</h2>
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          if (body.trim()) add.mutate();
        }}
      >
        {add.isError && <Alert kind="error">{errorMessage(add.error)}</Alert>}
        <TextArea label="Add a note" value={body} onChange={(e) => setBody(e.target.value)} />
        <button type="submit" disabled={add.isPending || !body.trim()}>
          Add note
        </button>
      </form>
      <QueryView query={notes}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No notes yet.</Empty>
          ) : (
            <>
              <ul className="list-plain">
                {items.map((n) => (
                  <NoteItem
                    key={`${n.id}-${n.body}`}
                    bid={bid}
                    note={n}
                    mine={Boolean(me.data && n.author_id === me.data.user.id)}
                    onSaved={async () => {
                      await queryClient.invalidateQueries({ queryKey: key });
                      await queryClient.invalidateQueries({ queryKey: ['timeline', bid, cid] });
                    }}
                  />
                ))}
              </ul>
              <LoadMore list={notes} noun="notes" />
            </>
          )
        }
      </QueryView>
    </section>
  );
}

function Tasks({ bid, cid }: { bid: string; cid: string }) {
  const queryClient = useQueryClient();
  const [title, setTitle] = useState('');
  const [due, setDue] = useState('');
  const key = ['tasks', bid, cid];
  const tasks = useQuery({
    queryKey: key,
    queryFn: async () => toPage<Task>(await api(bpath(bid, 'tasks') + qs({ contact_id: cid })), 'tasks').items,
  });
  const refresh = async () => {
    await queryClient.invalidateQueries({ queryKey: ['tasks', bid] });
  };
  const add = useMutation({
    mutationFn: () => api(bpath(bid, 'tasks'), { body: { contact_id: cid, title, due_date: due || undefined } }),
    onSuccess: async () => {
      setTitle('');
      setDue('');
      await refresh();
    },
  });
  const toggle = useMutation({
    mutationFn: (t: Task) => api(bpath(bid, 'tasks', t.id), { method: 'PATCH', body: { done: !t.done } }),
    onSuccess: refresh,
  });
  return (
    <section className="card" aria-labelledby="tasks-h">
      <h2 id="tasks-h">Tasks</h2>
      <form
        className="inline-form"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          if (title.trim()) add.mutate();
        }}
      >
        <TextField label="New task" value={title} onChange={(e) => setTitle(e.target.value)} />
        <TextField label="Due" type="date" value={due} onChange={(e) => setDue(e.target.value)} />
        <button type="submit" disabled={add.isPending || !title.trim()}>
          Add task
        </button>
      </form>
      {(add.isError || toggle.isError) && <Alert kind="error">{errorMessage(add.error ?? toggle.error)}</Alert>}
      <QueryView query={tasks}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No tasks.</Empty>
          ) : (
            <ul className="list-plain">
              {items.map((t) => (
                <li key={t.id}>
                  <label className="checkbox">
                    <input type="checkbox" checked={t.done} onChange={() => toggle.mutate(t)} />
                    <span>{t.done ? <s>{t.title}</s> : t.title}</span>
                  </label>
                  <div className="small muted">{t.due_date ? `Due ${formatDate(t.due_date)}` : 'No due date'}</div>
                </li>
              ))}
            </ul>
          )
        }
      </QueryView>
    </section>
  );
}

export function ContactActivity({ bid, cid }: { bid: string; cid: string }) {
  return (
    <>
      <Tasks bid={bid} cid={cid} />
      <Notes bid={bid} cid={cid} />
    </>
  );
}
