// A sender's rate, shared by every node and every path that sends through it: 1:1 texts,
// 1:1 emails and campaign batches book their slots in app.send_throttles under one key per
// sender (`sms:<twilio configuration>`, `email:<email sender>`), so together they never
// exceed the sender's messages per second (docs/ARCHITECTURE.md §21).
import type { Tx } from '../db/index.ts';

/** The throttle key of a sender, shared by 1:1 sends and campaigns. */
export const throttleKey = (channel: 'sms' | 'email', senderId: string): string => `${channel}:${senderId}`;

/**
 * Book `count` consecutive slots at `rate` per second on `key` and return how long to wait,
 * in milliseconds, before the first of them (0 when the sender is idle).
 */
export async function reserveSendSlots(
  tx: Tx,
  businessId: string,
  key: string,
  rate: number,
  count = 1,
): Promise<number> {
  const r = await tx.query<{ wait_ms: number }>(
    `INSERT INTO app.send_throttles AS t (business_id, key, next_at)
     VALUES ($1, $2, clock_timestamp() + make_interval(secs => $4::float8 / $3))
     ON CONFLICT (business_id, key) DO UPDATE
       SET next_at = greatest(t.next_at, clock_timestamp()) + make_interval(secs => $4::float8 / $3)
     RETURNING greatest(0, extract(epoch FROM (t.next_at - make_interval(secs => $4::float8 / $3) - clock_timestamp())) * 1000)::float8 AS wait_ms`,
    [businessId, key, rate, count],
  );
  return Number(r.rows[0]?.wait_ms ?? 0);
}
