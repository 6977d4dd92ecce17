// Demo workspaces may not reach the outside world (P9): no real integrations, no real
// SMS, no invitations. Other modules call assertNotDemo inside their transaction; the
// SQL helper app.is_demo_business (migration 0003) is there for their policies too.
import type { Tx } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';

export async function assertNotDemo(tx: Tx, businessId: string): Promise<void> {
  const r = await tx.query<{ demo: boolean }>('SELECT app.is_demo_business($1) AS demo', [businessId]);
  if (r.rows[0]?.demo) {
    throw new AppError(
      'demo_restricted',
      'this is a demo workspace: sign up to connect real integrations and send messages',
    );
  }
}
