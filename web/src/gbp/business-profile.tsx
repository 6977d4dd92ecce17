// The Business Profile screen (docs/ARCHITECTURE.md §20, §26): the attached location (or the
// picker), then the posts and reviews tabs. Without a location there is nothing to post to or
// read reviews from, so the tabs wait for one.
import { NavLink, Outlet } from 'react-router';
import { useBusiness } from '../app/me.ts';
import { Loading } from '../components/states.tsx';
import { useAttachedLocation } from './api.ts';
import { GbpError, LocationCard } from './location.tsx';

export function BusinessProfileLayout() {
  const { bid, canManage } = useBusiness();
  const location = useAttachedLocation(bid);
  const base = `/b/${bid}/business-profile`;
  return (
    <div className="stack">
      <h1>Business Profile</h1>
      {location.isPending ? (
        <Loading label="Loading the location…" />
      ) : location.isError ? (
        <GbpError bid={bid} error={location.error} retry={() => void location.refetch()} />
      ) : (
        <>
          <LocationCard bid={bid} location={location.data} canManage={canManage} />
          {location.data && (
            <>
              <nav className="tabs" aria-label="Business Profile">
                <NavLink to={base} end>
                  Posts
                </NavLink>
                <NavLink to={`${base}/reviews`}>Reviews</NavLink>
              </nav>
              <Outlet />
            </>
          )}
        </>
      )}
    </div>
  );
}
