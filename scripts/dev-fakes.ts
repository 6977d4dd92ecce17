// `npm run fakes`: Google's OpenID provider and Business Profile API as the loopback fakes the
// tests use (test/fakes/oidc.ts, test/fakes/google-business.ts), seeded with an account, a
// location and two reviews, so `npm start` can connect Google, pick the location, publish posts
// and answer reviews on a laptop without a Google project (docs/OPERATIONS.md §9). Prints the
// environment for `npm start`; Ctrl-C stops the fakes. Development only: the client secret is
// the fake's, and the provider signs whatever identity it is told.
//   --port N   the provider on N and the Business Profile API on N+1 (default 4455; 0: any free)
import { parseArgs } from 'node:util';
import { startGoogleBusinessFake } from '../test/fakes/google-business.ts';
import { startFakeOidc } from '../test/fakes/oidc.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '4455' } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65534) {
  console.error('--port must be a port number (0 picks free ones)');
  process.exit(2);
}

const idp = await startFakeOidc({ port });
idp.setIdentity({ sub: 'dev-fakes-owner', email: 'owner@lakeside-lending.example', email_verified: true });
const google = await startGoogleBusinessFake({ port: port === 0 ? 0 : port + 1 });
google.trustIssuer(idp.issuer);
const { parent } = google.addAccountWithLocation({
  accountName: 'Lakeside Lending',
  title: 'Lakeside Lending — Downtown',
});
const day = 24 * 3600_000;
google.addReview(parent, {
  starRating: 'FIVE',
  comment: 'Closed on time and explained every step. Thank you!',
  reviewer: { displayName: 'Marcus Lee' },
  createTime: new Date(Date.now() - 3 * day).toISOString(),
  updateTime: new Date(Date.now() - 3 * day).toISOString(),
});
google.addReview(parent, {
  starRating: 'TWO',
  comment: 'Waited a week for a call back.',
  reviewer: { displayName: 'Dana Whitfield' },
});

const env = {
  GOOGLE_ISSUER: idp.issuer,
  GOOGLE_CLIENT_ID: idp.clientId,
  GOOGLE_CLIENT_SECRET: idp.clientSecret,
  GOOGLE_API_BASE: google.url,
};
console.log('Google fakes on loopback (development only; Ctrl-C stops them). Environment for npm start:\n');
for (const [k, v] of Object.entries(env)) console.log(`${k}=${v}`);
console.log(
  `\nIn another shell:\n\n  ${Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')} npm start\n`,
);
console.log('Then Settings → Integrations → Connect Google, and Business Profile → pick the location.');

const stop = () => {
  void Promise.all([google.close(), idp.close()]).then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
