// The integration audit log (P6): who changed which integration, when, with details.
// Keyset paged with the server's cursor; rows are append-only on the server.
import { useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, bpath, qs } from '../api/client.ts';
import { formatDateTime } from '../components/format.ts';
import { Empty, QueryView } from '../components/states.tsx';
import { toPage } from '../crm/types.ts';

interface AuditRow {
  id: string;
  occurred_at?: string;
  created_at?: string;
  actor_email?: string | null;
  actor?: { email?: string } | null;
  action: string;
  details?: Record<string, unknown>;
}

const ACTIONS: Record<string, string> = {
  'twilio.config.added': 'Twilio number added',
  'twilio.config.removed': 'Twilio number removed',
  'twilio.config.default_set': 'Default Twilio number set',
  'twilio.config.updated': 'Twilio number rate changed',
  'google.connected': 'Google connected',
  'google.disconnected': 'Google disconnected',
  'google.scopes_added': 'Google access added',
  'email.sender.added': 'Email sender added',
  'email.sender.removed': 'Email sender removed',
  'email.sender.default_set': 'Default email sender set',
  'email.sender.updated': 'Email sender changed',
};

function describeDetails(details: Record<string, unknown> | undefined): string {
  if (!details) return '';
  return Object.entries(details)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${String(v)}`)
    .join(' · ');
}

const PAGE = 20;

export function AuditLog({ bid }: { bid: string }) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const audit = useQuery({
    queryKey: ['audit', bid, cursor],
    queryFn: async () => toPage<AuditRow>(await api(bpath(bid, 'integrations', 'audit') + qs({ limit: PAGE, cursor }))),
    placeholderData: keepPreviousData,
  });
  return (
    <section aria-labelledby="audit-h">
      <h2 id="audit-h">Audit log</h2>
      <p className="muted small">Every integration change is recorded here and can never be edited or deleted.</p>
      <QueryView query={audit}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No integration changes yet.</Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table data-testid="audit-log">
                  <thead>
                    <tr>
                      <th scope="col">Time</th>
                      <th scope="col">Actor</th>
                      <th scope="col">Action</th>
                      <th scope="col">Details</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((r) => (
                      <tr key={r.id} data-action={r.action}>
                        <td>{formatDateTime(r.occurred_at ?? r.created_at)}</td>
                        <td>{r.actor_email ?? r.actor?.email ?? 'system'}</td>
                        <td>{ACTIONS[r.action] ?? r.action}</td>
                        <td className="small">{describeDetails(r.details)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <nav className="pager" aria-label="Audit log pages">
                <button type="button" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
                  Newer
                </button>
                <button
                  type="button"
                  disabled={!page.nextCursor}
                  onClick={() => page.nextCursor && setCursors((c) => [...c, page.nextCursor])}
                >
                  Older
                </button>
              </nav>
            </>
          )
        }
      </QueryView>
    </section>
  );
}
