// The attached Business Profile location, and for owners and admins the picker of what the
// connected Google user manages (docs/ARCHITECTURE.md §26). Members only read: the server
// refuses them the list and the attach, so neither is offered.
import { useId, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { ApiError, errorMessage } from '../api/client.ts';
import { call, typedApi } from '../api/typed.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { Alert, Empty, ErrorState, Loading } from '../components/states.tsx';
import { isConnectionProblem, type AttachedLocation, type AvailableLocation } from './api.ts';

const CONNECTION_SENTENCES: Record<string, string> = {
  google_not_connected: 'Google is not connected to this business.',
  google_scope_missing: 'The connected Google account has not allowed Capto to manage your Business Profile.',
  google_reauth_required: 'Google no longer accepts this business’s connection.',
};

/** What to do when the Google connection is missing or short of the Business Profile scope. */
export function ConnectionProblem({ bid, code }: { bid: string; code: string }) {
  return (
    <div className="alert alert-warn" role="alert" data-testid="gbp-connection-problem">
      <p>
        {CONNECTION_SENTENCES[code] ?? 'The Google connection needs attention.'}{' '}
        {code === 'google_not_connected'
          ? 'Connect Google'
          : code === 'google_scope_missing'
            ? 'Choose “Add Business Profile access” for the Google connection'
            : 'Connect Google again'}{' '}
        in <Link to={`/b/${bid}/settings/integrations`}>Settings → Integrations</Link>
        {code === 'google_not_connected' ? ', then pick a location here.' : '.'}
      </p>
    </div>
  );
}

/** Shows an error: the connection problems link to Settings, the rest say what happened. */
export function GbpError({ bid, error, retry }: { bid: string; error: unknown; retry?: () => void }) {
  if (isConnectionProblem(error)) return <ConnectionProblem bid={bid} code={error.code} />;
  // A 502 from Google's side carries what Google said ("Google refused: …"); say it.
  if (error instanceof ApiError && error.code === 'upstream_error')
    return (
      <div className="alert alert-error" role="alert">
        <p>{error.message}</p>
        {retry && (
          <button type="button" onClick={retry}>
            Try again
          </button>
        )}
      </div>
    );
  return <ErrorState error={error} retry={retry} />;
}

function LocationPicker({ bid, current, onDone }: { bid: string; current: string | null; onDone?: () => void }) {
  const queryClient = useQueryClient();
  const pickerId = useId();
  const available = useQuery({
    queryKey: ['gbp-locations', bid],
    queryFn: async () =>
      (await call(typedApi.GET('/api/businesses/{bid}/google/locations', { params: { path: { bid } } }))).items,
    retry: false,
  });
  const attach = useMutation({
    mutationFn: (l: AvailableLocation) =>
      call(
        typedApi.PUT('/api/businesses/{bid}/google/location', {
          params: { path: { bid } },
          body: { account_name: l.account_name, location_name: l.location_name },
        }),
      ),
    onSuccess: async (r) => {
      queryClient.setQueryData(['gbp-location', bid], r.location);
      await queryClient.invalidateQueries({ queryKey: ['gbp-posts', bid] });
      onDone?.();
    },
  });
  if (available.isPending) return <Loading label="Asking Google for your locations…" />;
  if (available.isError) return <GbpError bid={bid} error={available.error} retry={() => void available.refetch()} />;
  if (available.data.length === 0)
    return (
      <Empty>
        The connected Google account manages no Business Profile locations. Add this business at Google Business
        Profile, or connect the Google account that manages it in{' '}
        <Link to={`/b/${bid}/settings/integrations`}>Settings → Integrations</Link>.
      </Empty>
    );
  return (
    <div className="stack">
      {attach.isError && <GbpError bid={bid} error={attach.error} />}
      <ul className="list-plain" data-testid="gbp-available-locations" aria-label="Locations you manage at Google">
        {available.data.map((l, i) => (
          <li key={`${l.account_name}/${l.location_name}`} className="row-between">
            <div>
              <strong id={`${pickerId}-${i}`}>{l.title}</strong>
              <div className="small muted">
                {[l.address, l.account_title ? `account ${l.account_title}` : null].filter(Boolean).join(' · ')}
              </div>
            </div>
            {current === l.location_name ? (
              <span className="badge badge-ok">Attached</span>
            ) : (
              <button
                type="button"
                className="primary"
                disabled={attach.isPending}
                aria-describedby={`${pickerId}-${i}`}
                onClick={() => attach.mutate(l)}
              >
                Use this location
              </button>
            )}
          </li>
        ))}
      </ul>
      {onDone && (
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      )}
    </div>
  );
}

export function LocationCard({
  bid,
  location,
  canManage,
}: {
  bid: string;
  location: AttachedLocation | null;
  canManage: boolean;
}) {
  const queryClient = useQueryClient();
  const [picking, setPicking] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const detach = useMutation({
    mutationFn: () => call(typedApi.DELETE('/api/businesses/{bid}/google/location', { params: { path: { bid } } })),
    onSuccess: async () => {
      setConfirm(false);
      queryClient.setQueryData(['gbp-location', bid], null);
      await queryClient.invalidateQueries({ queryKey: ['gbp-posts', bid] });
    },
  });
  if (!location) {
    return (
      <section className="card" aria-labelledby="gbp-location-h">
        <h2 id="gbp-location-h">Pick a location</h2>
        {canManage ? (
          <>
            <p className="small muted">
              Choose the Business Profile this business posts to and answers reviews on. Only owners and admins change
              it; every change is in the integration audit log.
            </p>
            <LocationPicker bid={bid} current={null} />
          </>
        ) : (
          <Empty>No Business Profile location is attached yet. An owner or admin of this business picks one.</Empty>
        )}
      </section>
    );
  }
  return (
    <section className="card" aria-labelledby="gbp-location-h" data-testid="gbp-location">
      <div className="row-between">
        <div>
          <h2 id="gbp-location-h">{location.title}</h2>
          {location.address && <div className="small muted">{location.address}</div>}
          <div className="small row">
            {location.maps_uri && (
              <a href={location.maps_uri} target="_blank" rel="noreferrer noopener">
                Open in Google Maps
              </a>
            )}
            {location.review_uri && (
              <a href={location.review_uri} target="_blank" rel="noreferrer noopener">
                Review link
              </a>
            )}
          </div>
        </div>
        {canManage && !picking && (
          <div className="row">
            <button type="button" onClick={() => setPicking(true)}>
              Change location
            </button>
            <button type="button" className="danger" onClick={() => setConfirm(true)}>
              Detach
            </button>
          </div>
        )}
      </div>
      {location.status === 'needs_reconnect' && <ConnectionProblem bid={bid} code="google_reauth_required" />}
      {detach.isError && <Alert kind="error">{errorMessage(detach.error)}</Alert>}
      {picking && <LocationPicker bid={bid} current={location.location_name} onDone={() => setPicking(false)} />}
      <ConfirmDialog
        open={confirm}
        title="Detach this location?"
        confirmLabel="Detach"
        busy={detach.isPending}
        onConfirm={() => detach.mutate()}
        onCancel={() => setConfirm(false)}
      >
        <p>Scheduled posts are cancelled. Published posts and replies stay at Google.</p>
      </ConfirmDialog>
    </section>
  );
}
