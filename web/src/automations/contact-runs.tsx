// The contact page's Automations card (docs/ARCHITECTURE.md §25): every run of this contact —
// which automation, where it is or why it ended — with a link to the automation. The steps
// themselves are on the contact's timeline.
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { call, typedApi } from '../api/typed.ts';
import { formatDateTime } from '../components/format.ts';
import { Empty, QueryView } from '../components/states.tsx';
import { humanize } from '../crm/types.ts';

export function ContactAutomations({ bid, cid }: { bid: string; cid: string }) {
  const runs = useQuery({
    queryKey: ['contact-automations', bid, cid],
    queryFn: async () =>
      (
        await call(
          typedApi.GET('/api/businesses/{bid}/contacts/{id}/automations', {
            params: { path: { bid, id: cid }, query: { limit: 20 } },
          }),
        )
      ).items,
    // A running automation moves on by itself: keep the card current while one runs.
    refetchInterval: (q) => ((q.state.data ?? []).some((r) => r.state === 'active') ? 5000 : false),
  });
  return (
    <section className="card" aria-labelledby="contact-automations-h">
      <h2 id="contact-automations-h">Automations</h2>
      <QueryView query={runs} loadingLabel="Loading automations…">
        {(items) =>
          items.length === 0 ? (
            <Empty>Not in any automation.</Empty>
          ) : (
            <ul className="list-plain" data-testid="contact-automations">
              {items.map((r) => (
                <li key={r.id}>
                  <Link to={`/b/${bid}/automations/${r.automation_id}`}>{r.automation_name}</Link>{' '}
                  <span className="badge">
                    {r.state}
                    {r.exit_reason ? ` (${humanize(r.exit_reason).toLowerCase()})` : ''}
                    {r.error_code ? ` (${r.error_code})` : ''}
                  </span>
                  <div className="small muted">
                    {r.state === 'completed'
                      ? `All ${r.steps_total} steps done`
                      : r.state === 'active' || r.state === 'paused'
                        ? `Next: step ${r.step_index + 1} of ${r.steps_total}${r.next_run_at ? `, ${formatDateTime(r.next_run_at)}` : ''}${r.state === 'paused' ? ' (held: the automation is paused)' : ''}`
                        : `Stopped before step ${r.step_index + 1} of ${r.steps_total}`}
                    {' · enrolled '}
                    {formatDateTime(r.enrolled_at)}
                  </div>
                </li>
              ))}
            </ul>
          )
        }
      </QueryView>
    </section>
  );
}
