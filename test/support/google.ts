// A Google connection written the way the callback writes it (one service
// transaction: audit row by an owner/admin, sealed tokens, the connection row), for
// tests of features that use the connection (Gmail senders) without replaying consent.
import { randomUUID } from 'node:crypto';
import { recordIntegrationChange } from '../../src/audit/integration-events.ts';
import type { Database } from '../../src/db/index.ts';
import type { Vault } from '../../src/vault/secrets.ts';

export async function connectGoogleFixture(
  db: Database,
  vault: Vault,
  input: { businessId: string; actorUserId: string; email: string; accessToken: string; scopes: string[] },
): Promise<string> {
  const id = randomUUID();
  await db.asService('test.google.connect', async (tx) => {
    await recordIntegrationChange(tx, {
      businessId: input.businessId,
      actorUserId: input.actorUserId,
      action: 'google.connected',
      subjectId: id,
      details: { google_email: input.email },
    });
    const secretId = await vault.putSecret(tx, {
      businessId: input.businessId,
      kind: 'google.oauth_tokens',
      plaintext: JSON.stringify({
        access_token: input.accessToken,
        refresh_token: `refresh-${randomUUID()}`,
        expires_at: Date.now() + 3600_000,
        scope: input.scopes.join(' '),
      }),
    });
    await tx.query(
      `INSERT INTO app.google_connections (id, business_id, google_email, scopes, secret_id, connected_by)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [id, input.businessId, input.email, input.scopes, secretId, input.actorUserId],
    );
  });
  return id;
}
