// The signed-in frame: business switcher, navigation, global search, the demo and trial
// banners, and sign-out. Every screen below renders into <Outlet />.
import { useEffect, useState, type FormEvent } from 'react';
import { Link, NavLink, Navigate, Outlet, useLocation, useNavigate } from 'react-router';
import { signOut } from '../auth/session.ts';
import { ErrorState, Loading } from '../components/states.tsx';
import { LAST_BUSINESS_KEY } from './app-home.tsx';
import { formatDateTime } from '../components/format.ts';
import { usePathTitle } from './title.ts';
import { VerifyEmailBanner } from './verify-banner.tsx';
import { NotificationBell } from './notifications.tsx';
import { useBusiness, useMe, type BusinessSummary } from './me.ts';

function Banners({ business }: { business: BusinessSummary }) {
  if (business.is_demo) {
    return (
      <div className="banner banner-demo" role="note" data-testid="demo-banner">
        <span>
          You are exploring a demo workspace with sample data.
          {business.demo_expires_at
            ? ` It is deleted on ${formatDateTime(business.demo_expires_at)}.`
            : ' It is deleted automatically.'}
        </span>
        <Link to="/signup">Create your own account</Link>
      </div>
    );
  }
  if (!business.trial) return null;
  const left = business.trial.days_left;
  return (
    <div className="banner banner-trial" role="note" data-testid="trial-banner">
      <span>
        {business.trial.active && left > 0
          ? `Your trial ends in ${left} day${left === 1 ? '' : 's'}.`
          : 'Your trial has ended.'}
      </span>
      <Link to="/contact">Talk to us about a plan</Link>
    </div>
  );
}

export function AppShell() {
  const me = useMe();
  const { bid, business } = useBusiness();
  const navigate = useNavigate();
  const location = useLocation();
  const [q, setQ] = useState('');
  const [menuOpen, setMenuOpen] = useState(false);
  usePathTitle();

  useEffect(() => setMenuOpen(false), [location.pathname]);
  useEffect(() => {
    if (business) localStorage.setItem(LAST_BUSINESS_KEY, business.id);
  }, [business]);

  if (me.isPending) return <Loading />;
  if (me.isError) return <ErrorState error={me.error} retry={() => void me.refetch()} />;
  if (!business) {
    // Not a member (or a mistyped id): never hint whether the business exists.
    return me.data.businesses.length > 0 ? <Navigate to="/app" replace /> : <Navigate to="/onboarding" replace />;
  }

  function search(e: FormEvent) {
    e.preventDefault();
    if (q.trim()) navigate(`/b/${bid}/search?q=${encodeURIComponent(q.trim())}`);
  }

  const base = `/b/${bid}`;
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <aside className={`sidebar${menuOpen ? ' open' : ''}`} id="sidebar">
        <Link to={base} className="brand">
          Capto
        </Link>
        <div>
          <label htmlFor="business-switcher">Business</label>
          <select
            id="business-switcher"
            value={bid}
            onChange={(e) =>
              e.target.value === '__new' ? navigate('/new-business') : navigate(`/b/${e.target.value}`)
            }
          >
            {me.data.businesses.map((b) => (
              <option key={b.id} value={b.id}>
                {b.name}
                {b.is_demo ? ' (demo)' : ''}
              </option>
            ))}
            {/* Demo accounts cannot create businesses (demo_restricted): do not offer it. */}
            {!me.data.flags.is_demo && <option value="__new">+ New business…</option>}
          </select>
        </div>
        <nav aria-label="Workspace">
          <NavLink to={base} end>
            Dashboard
          </NavLink>
          <NavLink to={`${base}/contacts`}>Contacts</NavLink>
          <NavLink to={`${base}/lists`}>Lists</NavLink>
          <NavLink to={`${base}/pipeline`}>Pipeline</NavLink>
          <NavLink to={`${base}/inbox`}>Inbox</NavLink>
          <NavLink to={`${base}/campaigns`}>Campaigns</NavLink>
          <NavLink to={`${base}/automations`}>Automations</NavLink>
          <NavLink to={`${base}/templates`}>Templates</NavLink>
          <NavLink to={`${base}/business-profile`}>Business Profile</NavLink>
          <NavLink to={`${base}/ai-drafts`}>AI drafts</NavLink>
          <NavLink to={`${base}/import`}>Import CSV</NavLink>
          <NavLink to={`${base}/settings`}>Settings</NavLink>
        </nav>
        <div className="sidebar-foot stack">
          <div className="small" data-testid="signed-in-as">
            {me.data.user.email}
          </div>
          <div className="small">Role: {business.role}</div>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </aside>
      <div className="main">
        <Banners business={business} />
        {me.data.user.email_verified === false && !business.is_demo && <VerifyEmailBanner email={me.data.user.email} />}
        <header className="topbar">
          <button
            type="button"
            className="menu-toggle"
            aria-expanded={menuOpen}
            aria-controls="sidebar"
            onClick={() => setMenuOpen((o) => !o)}
          >
            Menu
          </button>
          <form role="search" onSubmit={search}>
            <label htmlFor="global-search" className="sr-only">
              Search contacts, deals and conversations
            </label>
            <input
              id="global-search"
              type="search"
              placeholder="Search contacts, deals, conversations…"
              value={q}
              onChange={(e) => setQ(e.target.value)}
            />
          </form>
          <span className="muted small">{business.name}</span>
          <NotificationBell />
        </header>
        <main id="main" className="content">
          <Outlet />
        </main>
      </div>
    </div>
  );
}
