import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, bpath, qs } from '../api/client.ts';
import { formatDate, formatDateTime, formatMoney } from '../components/format.ts';
import { Empty, QueryView } from '../components/states.tsx';
import {
  DEAL_STAGES,
  dealAmount,
  fetchAll,
  humanize,
  toPage,
  type Conversation,
  type Deal,
  type Task,
} from '../crm/types.ts';
import { useBusiness } from './me.ts';

export function Dashboard() {
  const { bid, business } = useBusiness();
  const tasks = useQuery({
    queryKey: ['tasks', bid, 'open'],
    queryFn: async () => toPage<Task>(await api(bpath(bid, 'tasks') + qs({ done: false, limit: 10 })), 'tasks'),
  });
  const conversations = useQuery({
    queryKey: ['conversations', bid, 'recent'],
    queryFn: async () =>
      toPage<Conversation>(await api(bpath(bid, 'conversations') + qs({ limit: 5 })), 'conversations'),
  });
  const deals = useQuery({
    queryKey: ['deals', bid],
    queryFn: async () => ({ items: await fetchAll<Deal>(bpath(bid, 'deals') + qs({ limit: 200 }), (u) => api(u)) }),
  });
  return (
    <>
      <h1>{business?.name ?? 'Dashboard'}</h1>
      <div className="grid-3">
        <section className="card" aria-labelledby="dash-tasks">
          <h2 id="dash-tasks">Open tasks</h2>
          <QueryView query={tasks}>
            {(page) =>
              page.items.filter((t) => !t.done).length === 0 ? (
                <Empty>No open tasks. Add them from a contact.</Empty>
              ) : (
                <ul className="list-plain">
                  {page.items
                    .filter((t) => !t.done)
                    .map((t) => (
                      <li key={t.id}>
                        {t.contact_id ? <Link to={`/b/${bid}/contacts/${t.contact_id}`}>{t.title}</Link> : t.title}
                        <div className="small muted">Due {formatDate(t.due_date)}</div>
                      </li>
                    ))}
                </ul>
              )
            }
          </QueryView>
        </section>
        <section className="card" aria-labelledby="dash-conv">
          <h2 id="dash-conv">Recent conversations</h2>
          <QueryView query={conversations}>
            {(page) =>
              page.items.length === 0 ? (
                <Empty>No conversations yet.</Empty>
              ) : (
                <ul className="list-plain">
                  {page.items.map((c) => (
                    <li key={c.id}>
                      <Link to={`/b/${bid}/inbox/${c.id}`}>{c.contact_name || c.contact_phone || 'Contact'}</Link>
                      {c.unread_count > 0 && <span className="badge"> {c.unread_count} unread</span>}
                      <div className="small muted">{c.last_message_preview ?? ''}</div>
                      <div className="small muted">{formatDateTime(c.last_message_at)}</div>
                    </li>
                  ))}
                </ul>
              )
            }
          </QueryView>
        </section>
        <section className="card" aria-labelledby="dash-pipe">
          <h2 id="dash-pipe">Pipeline by stage</h2>
          <QueryView query={deals}>
            {(page) => (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Stage</th>
                    <th scope="col">Deals</th>
                    <th scope="col">Amount</th>
                  </tr>
                </thead>
                <tbody>
                  {DEAL_STAGES.map((stage) => {
                    const inStage = page.items.filter((d) => d.stage === stage);
                    return (
                      <tr key={stage}>
                        <td>{humanize(stage)}</td>
                        <td>{inStage.length}</td>
                        <td>{formatMoney(inStage.reduce((s, d) => s + dealAmount(d), 0))}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
          </QueryView>
        </section>
      </div>
    </>
  );
}
