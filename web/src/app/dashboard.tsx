// The dashboard (docs/ARCHITECTURE.md §12.2): the numbers come from one endpoint, computed
// in SQL under RLS; the charts are Recharts. A new business sees a getting-started
// checklist until each step is done.
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { api, bpath, qs } from '../api/client.ts';
import { formatDate, formatMoney } from '../components/format.ts';
import { Empty, QueryView } from '../components/states.tsx';
import { contactSourceLabel, humanize, toPage, type Task } from '../crm/types.ts';
import { useBusiness } from './me.ts';

interface DashboardData {
  time_zone: string;
  pipeline: { stage: string; count: number; amount_cents: number }[];
  funded_by_month: { month: string; count: number; amount_cents: number }[];
  leads: { days: number; by_source: { source: string; leads: number; applications: number; funded: number }[] };
  tasks: { due_today: number; overdue: number };
  unread_conversations: number;
  checklist: { contacts: boolean; twilio: boolean; teammate: boolean; deal: boolean; done: boolean };
}

const OPEN_STAGES = ['lead', 'application', 'processing', 'underwriting', 'clear_to_close'];
const compactMoney = (cents: number) =>
  (cents / 100).toLocaleString(undefined, { style: 'currency', currency: 'USD', notation: 'compact' });
const monthLabel = (m: string) =>
  new Date(`${m}-15T12:00:00Z`).toLocaleDateString(undefined, { month: 'short', year: '2-digit', timeZone: 'UTC' });

function Checklist({ bid, c }: { bid: string; c: DashboardData['checklist'] }) {
  const steps = [
    { done: c.contacts, label: 'Add contacts or import a CSV', to: `/b/${bid}/import` },
    { done: c.twilio, label: 'Connect your Twilio number', to: `/b/${bid}/settings/integrations` },
    { done: c.teammate, label: 'Invite a teammate', to: `/b/${bid}/settings/team` },
    { done: c.deal, label: 'Create your first deal', to: `/b/${bid}/pipeline` },
  ];
  const left = steps.filter((s) => !s.done).length;
  return (
    <section className="card checklist" aria-labelledby="dash-start" data-testid="getting-started">
      <h2 id="dash-start">Getting started</h2>
      <p className="muted small">
        {4 - left} of 4 done. {left === 1 ? 'One step' : `${left} steps`} left.
      </p>
      <ol className="list-plain">
        {steps.map((s) => (
          <li key={s.label} className={s.done ? 'done' : ''}>
            <span aria-hidden="true">{s.done ? '✓' : '○'}</span>{' '}
            {s.done ? (
              <span>
                {s.label} <span className="sr-only">(done)</span>
              </span>
            ) : (
              <Link to={s.to}>{s.label}</Link>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

function Stat({ label, value, to, tone }: { label: string; value: number; to: string; tone?: 'warn' }) {
  return (
    <Link to={to} className={`stat card${tone && value > 0 ? ` stat-${tone}` : ''}`}>
      <span className="stat-value">{value}</span>
      <span className="stat-label">{label}</span>
    </Link>
  );
}

export function Dashboard() {
  const { bid, business } = useBusiness();
  const dash = useQuery({
    queryKey: ['dashboard', bid],
    queryFn: () => api<DashboardData>(bpath(bid, 'dashboard')),
  });
  const tasks = useQuery({
    queryKey: ['tasks', bid, 'mine-open'],
    queryFn: async () =>
      toPage<Task>(await api(bpath(bid, 'tasks') + qs({ assignee: 'me', done: false, limit: 8 })), 'tasks'),
  });
  return (
    <>
      <h1>{business?.name ?? 'Dashboard'}</h1>
      <QueryView query={dash} loadingLabel="Loading the dashboard…">
        {(d) => {
          const pipeline = d.pipeline
            .filter((p) => OPEN_STAGES.includes(p.stage))
            .map((p) => ({ ...p, name: humanize(p.stage), value: p.amount_cents / 100 }));
          const funded = d.funded_by_month.map((m) => ({
            ...m,
            name: monthLabel(m.month),
            value: m.amount_cents / 100,
          }));
          const leads = d.leads.by_source.map((s) => ({ ...s, name: contactSourceLabel(s.source) }));
          return (
            <div className="stack">
              {!d.checklist.done && <Checklist bid={bid} c={d.checklist} />}
              <div className="stats" data-testid="dashboard-stats">
                <Stat label="Tasks due today" value={d.tasks.due_today} to={`/b/${bid}`} />
                <Stat label="Overdue tasks" value={d.tasks.overdue} to={`/b/${bid}`} tone="warn" />
                <Stat label="Unread conversations" value={d.unread_conversations} to={`/b/${bid}/inbox`} />
              </div>
              <div className="grid-2">
                <section className="card" aria-labelledby="dash-pipe" data-testid="chart-pipeline">
                  <h2 id="dash-pipe">Open pipeline by stage</h2>
                  <p className="muted small">
                    {pipeline.reduce((s, p) => s + p.count, 0)} deals ·{' '}
                    {formatMoney(pipeline.reduce((s, p) => s + p.value, 0))}
                  </p>
                  <div className="chart">
                    <ResponsiveContainer width="100%" height="100%">
                      <BarChart data={pipeline} layout="vertical" margin={{ left: 8, right: 16 }}>
                        <CartesianGrid strokeDasharray="3 3" horizontal={false} />
                        <XAxis type="number" tickFormatter={(v: number) => compactMoney(v * 100)} />
                        <YAxis type="category" dataKey="name" width={104} tick={{ fontSize: 12 }} />
                        <Tooltip
                          formatter={(v, _n, item) => [
                            `${formatMoney(Number(v))} (${(item.payload as { count: number }).count} deals)`,
                            'Value',
                          ]}
                        />
                        <Bar dataKey="value" name="Value" fill="#2563eb" isAnimationActive={false} />
                      </BarChart>
                    </ResponsiveContainer>
                  </div>
                  <table className="sr-only">
                    <caption>Open pipeline by stage</caption>
                    <tbody>
                      {pipeline.map((p) => (
                        <tr key={p.stage}>
                          <th scope="row">{p.name}</th>
                          <td>{p.count} deals</td>
                          <td>{formatMoney(p.value)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </section>
                <section className="card" aria-labelledby="dash-funded" data-testid="chart-funded">
                  <h2 id="dash-funded">Funded volume, last 12 months</h2>
                  <p className="muted small">
                    {funded.reduce((s, m) => s + m.count, 0)} loans ·{' '}
                    {formatMoney(funded.reduce((s, m) => s + m.value, 0))}
                  </p>
                  <div className="chart">
                    <ResponsiveContainer width="100%" height="100%">
                      <BarChart data={funded} margin={{ left: 8, right: 8 }}>
                        <CartesianGrid strokeDasharray="3 3" vertical={false} />
                        <XAxis dataKey="name" tick={{ fontSize: 12 }} />
                        <YAxis tickFormatter={(v: number) => compactMoney(v * 100)} width={64} />
                        <Tooltip formatter={(v) => [formatMoney(Number(v)), 'Funded']} />
                        <Bar dataKey="value" name="Funded" fill="#16a34a" isAnimationActive={false} />
                      </BarChart>
                    </ResponsiveContainer>
                  </div>
                  <table className="sr-only">
                    <caption>Funded volume by month</caption>
                    <tbody>
                      {funded.map((m) => (
                        <tr key={m.month}>
                          <th scope="row">{m.name}</th>
                          <td>{m.count} loans</td>
                          <td>{formatMoney(m.value)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </section>
                <section className="card" aria-labelledby="dash-leads" data-testid="chart-leads">
                  <h2 id="dash-leads">New leads by source, last {d.leads.days} days</h2>
                  {leads.length === 0 ? (
                    <Empty>No new leads in this period.</Empty>
                  ) : (
                    <>
                      <div className="chart">
                        <ResponsiveContainer width="100%" height="100%">
                          <BarChart data={leads} margin={{ left: 8, right: 8 }}>
                            <CartesianGrid strokeDasharray="3 3" vertical={false} />
                            <XAxis dataKey="name" tick={{ fontSize: 12 }} interval={0} />
                            <YAxis allowDecimals={false} width={40} />
                            <Tooltip />
                            <Legend />
                            <Bar dataKey="leads" name="Leads" fill="#64748b" isAnimationActive={false} />
                            <Bar dataKey="applications" name="Applications" fill="#2563eb" isAnimationActive={false} />
                            <Bar dataKey="funded" name="Funded" fill="#16a34a" isAnimationActive={false} />
                          </BarChart>
                        </ResponsiveContainer>
                      </div>
                      <table className="compact">
                        <caption className="sr-only">Leads and conversion by source</caption>
                        <thead>
                          <tr>
                            <th scope="col">Source</th>
                            <th scope="col">Leads</th>
                            <th scope="col">To application</th>
                            <th scope="col">To funded</th>
                          </tr>
                        </thead>
                        <tbody>
                          {leads.map((s) => (
                            <tr key={s.source}>
                              <th scope="row">{s.name}</th>
                              <td>{s.leads}</td>
                              <td>{s.leads ? Math.round((100 * s.applications) / s.leads) : 0}%</td>
                              <td>{s.leads ? Math.round((100 * s.funded) / s.leads) : 0}%</td>
                            </tr>
                          ))}
                        </tbody>
                      </table>
                    </>
                  )}
                </section>
                <section className="card" aria-labelledby="dash-tasks">
                  <h2 id="dash-tasks">My open tasks</h2>
                  <QueryView query={tasks}>
                    {(page) =>
                      page.items.length === 0 ? (
                        <Empty>No open tasks. Add them from a contact.</Empty>
                      ) : (
                        <ul className="list-plain">
                          {page.items.map((t) => (
                            <li key={t.id}>
                              {t.contact_id ? (
                                <Link to={`/b/${bid}/contacts/${t.contact_id}`}>{t.title}</Link>
                              ) : (
                                t.title
                              )}
                              {t.overdue && <span className="badge badge-danger"> Overdue</span>}
                              <div className="small muted">
                                Due {t.due_at ? new Date(t.due_at).toLocaleString() : formatDate(t.due_date)}
                              </div>
                            </li>
                          ))}
                        </ul>
                      )
                    }
                  </QueryView>
                </section>
              </div>
            </div>
          );
        }}
      </QueryView>
    </>
  );
}
