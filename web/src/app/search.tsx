// Global search: GET /search?q= when the server has it, contacts ?q= otherwise.
import { useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { api, ApiError, bpath, qs } from '../api/client.ts';
import { formatMoney, fullName } from '../components/format.ts';
import { Empty, QueryView } from '../components/states.tsx';
import { dealAmount, humanize, toPage, type Contact, type Deal, type List } from '../crm/types.ts';
import { useBusiness } from './me.ts';

interface Results {
  contacts: Contact[];
  deals: Deal[];
  lists: List[];
}

async function runSearch(bid: string, q: string): Promise<Results> {
  try {
    const raw = await api<Partial<Results> & { results?: unknown }>(bpath(bid, 'search') + qs({ q }));
    return { contacts: raw.contacts ?? [], deals: raw.deals ?? [], lists: raw.lists ?? [] };
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    const contacts = toPage<Contact>(await api(bpath(bid, 'contacts') + qs({ q, limit: 25 })), 'contacts').items;
    return { contacts, deals: [], lists: [] };
  }
}

export function SearchPage() {
  const { bid } = useBusiness();
  const [params] = useSearchParams();
  const q = params.get('q') ?? '';
  const results = useQuery({ queryKey: ['search', bid, q], queryFn: () => runSearch(bid, q), enabled: q.length > 0 });
  if (!q) return <Empty>Type in the search box above to find contacts, deals and lists.</Empty>;
  return (
    <>
      <h1>Results for “{q}”</h1>
      <QueryView query={results} loadingLabel="Searching…">
        {(r) =>
          r.contacts.length + r.deals.length + r.lists.length === 0 ? (
            <Empty>Nothing matches “{q}”.</Empty>
          ) : (
            <div className="grid-3">
              <section className="card">
                <h2>Contacts ({r.contacts.length})</h2>
                <ul className="list-plain">
                  {r.contacts.map((c) => (
                    <li key={c.id}>
                      <Link to={`/b/${bid}/contacts/${c.id}`}>{fullName(c)}</Link>
                      <div className="small muted">{[c.email, c.phone].filter(Boolean).join(' · ')}</div>
                    </li>
                  ))}
                </ul>
              </section>
              <section className="card">
                <h2>Deals ({r.deals.length})</h2>
                <ul className="list-plain">
                  {r.deals.map((d) => (
                    <li key={d.id}>
                      <Link to={`/b/${bid}/pipeline`}>{d.title}</Link>
                      <div className="small muted">{humanize(d.stage)} · {formatMoney(dealAmount(d))}</div>
                    </li>
                  ))}
                </ul>
              </section>
              <section className="card">
                <h2>Lists ({r.lists.length})</h2>
                <ul className="list-plain">
                  {r.lists.map((l) => (
                    <li key={l.id}><Link to={`/b/${bid}/lists/${l.id}`}>{l.name}</Link></li>
                  ))}
                </ul>
              </section>
            </div>
          )
        }
      </QueryView>
    </>
  );
}
