// Global search: GET …/search?q= over contacts, deals and conversations.
import { useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { api, bpath, qs } from '../api/client.ts';
import { formatMoney, fullName } from '../components/format.ts';
import { Empty, QueryView } from '../components/states.tsx';
import { dealAmount, humanize, type Contact, type Deal } from '../crm/types.ts';
import { formatPhone } from '../components/phone.tsx';
import { useBusiness } from './me.ts';

interface Results {
  contacts: Contact[];
  deals: Pick<Deal, 'id' | 'title' | 'stage' | 'amount_cents' | 'contact_id'>[];
  conversations: { id: string; contact_id: string; contact_name: string; our_number: string; snippet: string | null }[];
}

async function runSearch(bid: string, q: string): Promise<Results> {
  const raw = await api<Partial<Results>>(bpath(bid, 'search') + qs({ q, limit: 20 }));
  return { contacts: raw.contacts ?? [], deals: raw.deals ?? [], conversations: raw.conversations ?? [] };
}

export function SearchPage() {
  const { bid } = useBusiness();
  const [params] = useSearchParams();
  const q = params.get('q') ?? '';
  const results = useQuery({ queryKey: ['search', bid, q], queryFn: () => runSearch(bid, q), enabled: q.length > 0 });
  if (!q) return <Empty>Type in the search box above to find contacts, deals and conversations.</Empty>;
  return (
    <>
      <h1>Results for “{q}”</h1>
      <QueryView query={results} loadingLabel="Searching…">
        {(r) =>
          r.contacts.length + r.deals.length + r.conversations.length === 0 ? (
            <Empty>Nothing matches “{q}”.</Empty>
          ) : (
            <div className="grid-3">
              <section className="card">
                <h2>Contacts ({r.contacts.length})</h2>
                <ul className="list-plain">
                  {r.contacts.map((c) => (
                    <li key={c.id}>
                      <Link to={`/b/${bid}/contacts/${c.id}`}>{fullName(c)}</Link>
                      <div className="small muted">
                        {[c.email, c.phone ? formatPhone(c.phone) : null].filter(Boolean).join(' · ')}
                      </div>
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
                      <div className="small muted">
                        {humanize(d.stage)} · {formatMoney(dealAmount(d))}
                      </div>
                    </li>
                  ))}
                </ul>
              </section>
              <section className="card">
                <h2>Conversations ({r.conversations.length})</h2>
                <ul className="list-plain">
                  {r.conversations.map((c) => (
                    <li key={c.id}>
                      <Link to={`/b/${bid}/inbox/${c.id}`}>{c.contact_name}</Link>
                      <div className="small muted">{c.snippet ?? formatPhone(c.our_number)}</div>
                    </li>
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
