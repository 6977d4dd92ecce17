import { Link, Outlet } from 'react-router';
import { usePathTitle } from '../app/title.ts';
import { useSession } from '../auth/use-session.ts';

export function PublicLayout() {
  const { status } = useSession();
  usePathTitle();
  return (
    <div className="public">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="public-header">
        <Link to="/" className="brand">
          Capto
        </Link>
        <nav aria-label="Main">
          <Link to="/security">Security</Link>
          {status === 'signed-in' ? (
            <Link to="/app">Open Capto</Link>
          ) : (
            <>
              <Link to="/signin">Sign in</Link>
              <Link to="/signup">Create account</Link>
            </>
          )}
        </nav>
      </header>
      <main id="main" className="public-main">
        <Outlet />
      </main>
      <footer className="public-footer">
        <span>© Capto</span>
        <nav aria-label="Legal">
          <Link to="/security">Security</Link>
          <Link to="/privacy">Privacy Policy</Link>
          <Link to="/terms">Terms of Service</Link>
          <Link to="/contact">Contact</Link>
        </nav>
      </footer>
    </div>
  );
}
