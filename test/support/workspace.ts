// An HTTP workspace for tests: an owner who created a business through the API, and
// an admin and a member who joined it by accepting mailed invitations — the real flow.
import { request } from './http.ts';
import { signUp, type SignedUpUser } from './auth.ts';
import { lastMailTo, tokenFromMail } from './outbox.ts';
import type { TestServer } from './server.ts';

export interface HttpWorkspace {
  businessId: string;
  name: string;
  owner: SignedUpUser;
  admin: SignedUpUser;
  member: SignedUpUser;
}

export async function createBusinessHttp(server: TestServer, user: SignedUpUser, name: string): Promise<string> {
  const res = await request(`${server.url}/api/businesses`, { token: user.accessToken, body: { name } });
  if (res.status !== 201) throw new Error(`create business failed: ${res.status} ${res.text}`);
  return (res.json as { id: string }).id;
}

/** Invite `email` as `inviter` and return the token from the mailed link. */
export async function inviteHttp(
  server: TestServer,
  inviter: SignedUpUser,
  businessId: string,
  email: string,
  role: string,
): Promise<string> {
  const res = await request(`${server.url}/api/businesses/${businessId}/invitations`, {
    token: inviter.accessToken,
    body: { email, role },
  });
  if (res.status !== 201) throw new Error(`invite failed: ${res.status} ${res.text}`);
  const mail = await lastMailTo(server.config.dataDir, email, /invited/);
  const token = tokenFromMail(mail);
  if (token !== (res.json as { token: string }).token)
    throw new Error('the mailed token differs from the one shown to the inviter');
  return token;
}

export async function acceptHttp(server: TestServer, user: SignedUpUser, token: string) {
  return request(`${server.url}/api/invitations/accept`, { token: user.accessToken, body: { token } });
}

export async function httpWorkspace(server: TestServer, label = 'Alpha'): Promise<HttpWorkspace> {
  const [owner, admin, member] = await Promise.all([
    signUp(server, { verified: true }),
    signUp(server, { verified: true }),
    signUp(server, { verified: true }),
  ]);
  const name = `${label} Lending ${owner.userId.slice(0, 6)}`;
  const businessId = await createBusinessHttp(server, owner, name);
  for (const [user, role] of [
    [admin, 'admin'],
    [member, 'member'],
  ] as const) {
    const token = await inviteHttp(server, owner, businessId, user.email, role);
    const res = await acceptHttp(server, user, token);
    if (res.status !== 200) throw new Error(`accept failed: ${res.status} ${res.text}`);
  }
  return { businessId, name, owner, admin, member };
}
