// `npm run fakes` (scripts/dev-fakes.ts, docs/OPERATIONS.md §9): the process starts, prints the
// environment for `npm start`, and Capto's own Business Profile client — with an access token
// of the printed provider carrying business.manage — lists the seeded location and reviews at
// the printed API base; a token without the scope is refused as Google refuses it. SIGTERM
// stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGbpClient, GbpApiError } from '../src/gbp/client.ts';

let child: ChildProcess;
let out = '';
const env: Record<string, string> = {};

async function tokenWith(scope: string): Promise<string> {
  const r = await fetch(`${env.GOOGLE_ISSUER!.replace(/\/$/, '')}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, client_id: env.GOOGLE_CLIENT_ID! }),
  });
  expect(r.status).toBe(200);
  return ((await r.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev-fakes.ts', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const end = Date.now() + 60_000;
  while (!/^GOOGLE_API_BASE=.+$/m.test(out)) {
    if (Date.now() > end || child.exitCode !== null) throw new Error(`npm run fakes did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const m of out.matchAll(/^(GOOGLE_[A-Z_]+)=(\S+)$/gm)) env[m[1]!] = m[2]!;
}, 90_000);
afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGTERM');
});

describe('npm run fakes', () => {
  it('prints the environment for npm start', () => {
    expect(Object.keys(env).sort()).toEqual([
      'GOOGLE_API_BASE',
      'GOOGLE_CLIENT_ID',
      'GOOGLE_CLIENT_SECRET',
      'GOOGLE_ISSUER',
    ]);
    expect(env.GOOGLE_ISSUER).toMatch(/^http:\/\/(localhost|127\.0\.0\.1):\d+/);
    expect(env.GOOGLE_API_BASE).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(out).toContain(`GOOGLE_API_BASE=${env.GOOGLE_API_BASE} npm start`);
  });

  it('serves the seeded location and reviews to a token with business.manage', async () => {
    const client = createGbpClient(env.GOOGLE_API_BASE!);
    const token = await tokenWith('openid email https://www.googleapis.com/auth/business.manage');
    const accounts = await client.listAccounts(token);
    expect(accounts.map((a) => a.accountName)).toEqual(['Lakeside Lending']);
    const locations = await client.listLocations(token, accounts[0]!.name);
    expect(locations.map((l) => l.title)).toEqual(['Lakeside Lending — Downtown']);
    const reviews = await client.listReviews(token, `${accounts[0]!.name}/${locations[0]!.name}`);
    expect(reviews.map((r) => r.reviewer?.displayName).sort()).toEqual(['Dana Whitfield', 'Marcus Lee']);

    // The fake checks the scope as Google does: without business.manage, 403.
    const narrow = await tokenWith('openid email');
    const refused = await client.listAccounts(narrow).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GbpApiError);
    expect((refused as GbpApiError).kind).toBe('scope');
  });

  it('stops on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
