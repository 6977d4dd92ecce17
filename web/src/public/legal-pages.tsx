import { Link } from 'react-router';

export function PrivacyPage() {
  return (
    <article className="prose">
      <h1>Privacy Policy</h1>
      <p>This policy explains what Capto collects, why, and what control you have over it.</p>
      <h2>What we collect</h2>
      <ul>
        <li>
          Your account: name, email address, a password hash (argon2id — we never store your password), and sign-in
          events (time, IP address, browser) for security.
        </li>
        <li>
          What your team stores in Capto: contacts, lists, deals, notes, tasks and SMS conversations. You control this
          data; we process it only to provide the service.
        </li>
        <li>
          Integration credentials you connect (Twilio, Google), stored encrypted and used only to send and receive on
          your behalf.
        </li>
      </ul>
      <h2>How we use it</h2>
      <p>
        To run the service, keep it secure, and contact you about your account. We do not sell personal data or use your
        customers' data for advertising.
      </p>
      <h2>Sharing</h2>
      <p>
        Only with the providers you connect (for example Twilio, to deliver your messages) and when the law requires it.
      </p>
      <h2>Retention and deletion</h2>
      <p>
        Owners can delete a business in Settings → General, which removes its data. Demo workspaces are deleted
        automatically.
      </p>
      <h2>Your rights</h2>
      <p>
        You can ask for a copy of your data, its correction or its deletion through our{' '}
        <Link to="/contact">contact page</Link>.
      </p>
    </article>
  );
}

export function TermsPage() {
  return (
    <article className="prose">
      <h1>Terms of Service</h1>
      <p>By using Capto you agree to these terms.</p>
      <h2>Your account</h2>
      <p>
        Keep your credentials secret and tell us promptly about any unauthorised use. You are responsible for the
        activity of the members you invite.
      </p>
      <h2>Acceptable use</h2>
      <p>
        Send SMS only to people who agreed to hear from you, honour opt-outs (Capto stops messages to numbers that
        replied STOP), and follow the laws that apply to lending and to marketing communications.
      </p>
      <h2>Your data</h2>
      <p>
        You own the data you put in Capto. We process it as described in the <Link to="/privacy">Privacy Policy</Link>.
      </p>
      <h2>Availability</h2>
      <p>
        We work to keep Capto available and secure, but the service is provided as is. Trials end after their stated
        period unless you subscribe.
      </p>
      <h2>Changes</h2>
      <p>We will tell you about material changes to these terms before they take effect.</p>
    </article>
  );
}

export function ContactPage() {
  return (
    <article className="prose">
      <h1>Contact</h1>
      <div className="grid-2">
        <div className="card">
          <h2>Support and sales</h2>
          <p>
            Questions about your account, billing or the product:{' '}
            <a href="mailto:support@capto.example">support@capto.example</a>.
          </p>
        </div>
        <div className="card">
          <h2>Security</h2>
          <p>
            To report a vulnerability, see the <Link to="/security">Security page</Link>; the contact is also published
            in <a href="/.well-known/security.txt">security.txt</a>.
          </p>
        </div>
        <div className="card">
          <h2>Privacy requests</h2>
          <p>
            Access, correction or deletion of your personal data:{' '}
            <a href="mailto:privacy@capto.example">privacy@capto.example</a>.
          </p>
        </div>
      </div>
    </article>
  );
}
