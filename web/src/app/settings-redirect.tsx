// The Google connection callback lands on /settings/integrations?business=<id>&google=…
// (the server does not know the SPA's URL scheme); forward it to that business's page.
import { Navigate, useSearchParams } from 'react-router';
import { ErrorState, Loading } from '../components/states.tsx';
import { LAST_BUSINESS_KEY } from './app-home.tsx';
import { useMe } from './me.ts';

export function SettingsIntegrationsRedirect() {
  const [params] = useSearchParams();
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (me.isError) return <ErrorState error={me.error} retry={() => void me.refetch()} />;
  const list = me.data.businesses;
  const wanted = params.get('business') ?? localStorage.getItem(LAST_BUSINESS_KEY);
  const target = list.find((b) => b.id === wanted) ?? list[0];
  if (!target) return <Navigate to="/onboarding" replace />;
  const outcome = params.get('google');
  return (
    <Navigate
      to={`/b/${target.id}/settings/integrations${outcome ? `?google=${encodeURIComponent(outcome)}` : ''}`}
      replace
    />
  );
}
