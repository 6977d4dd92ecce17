// /app: send the user to their last business, their first one, or onboarding.
import { Navigate } from 'react-router';
import { ErrorState, Loading } from '../components/states.tsx';
import { useMe } from './me.ts';

export const LAST_BUSINESS_KEY = 'capto.lastBusiness';

export function AppHome() {
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (me.isError) return <ErrorState error={me.error} retry={() => void me.refetch()} />;
  const list = me.data.businesses;
  if (list.length === 0) return <Navigate to="/onboarding" replace />;
  // Only a business id (not a secret, not personal data) is remembered between visits.
  const last = localStorage.getItem(LAST_BUSINESS_KEY);
  const target = list.find((b) => b.id === last) ?? list[0]!;
  return <Navigate to={`/b/${target.id}`} replace />;
}
