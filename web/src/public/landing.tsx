import { Link } from 'react-router';
import { DemoButton } from './demo-button.tsx';

export function LandingPage() {
  return (
    <>
      <section className="hero">
        <h1>The CRM loan officers can trust with their borrowers.</h1>
        <p className="muted">
          Contacts, lists, a loan pipeline and two-way SMS through your own Twilio number — with security enforced by
          the database, not by good intentions.
        </p>
        <div className="row">
          <Link to="/signup" className="button primary">
            Create your account
          </Link>
          <DemoButton />
          <Link to="/signin" className="button">
            Sign in
          </Link>
        </div>
      </section>
      <section className="grid-3" aria-label="Highlights">
        <div className="card">
          <h2>Your team, walled off</h2>
          <p>
            Every row is scoped to its business by PostgreSQL row-level security. Another team can never read your
            borrowers.
          </p>
        </div>
        <div className="card">
          <h2>Secrets stay secret</h2>
          <p>Twilio and Google tokens are encrypted with AES-256-GCM and are never shown again — not even to admins.</p>
        </div>
        <div className="card">
          <h2>Every change on the record</h2>
          <p>Integration changes land in a tamper-evident audit log you can read in Settings → Integrations.</p>
        </div>
      </section>
    </>
  );
}
