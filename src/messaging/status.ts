// Message status only moves forward: queued → sending → sent →
// delivered | undelivered | failed. Twilio's callbacks can arrive out of order or
// twice (retries, parallel delivery receipts), so each update is conditional on the
// stored status ranking lower — in the UPDATE itself, so two concurrent callbacks
// cannot both win.

/** Twilio's MessageStatus values mapped to ours (https://www.twilio.com/docs/messaging/api/message-resource#message-status-values). */
const FROM_TWILIO: Record<string, OutboundStatus> = {
  accepted: 'queued',
  scheduled: 'queued',
  queued: 'queued',
  sending: 'sending',
  sent: 'sent',
  delivered: 'delivered',
  read: 'delivered',
  undelivered: 'undelivered',
  failed: 'failed',
  canceled: 'failed',
};

export type OutboundStatus = 'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'failed';

export const STATUS_RANK: Record<OutboundStatus, number> = {
  queued: 0,
  sending: 1,
  sent: 2,
  delivered: 3,
  undelivered: 3,
  failed: 3,
};

export function fromTwilioStatus(value: unknown): OutboundStatus | undefined {
  return typeof value === 'string' ? FROM_TWILIO[value.toLowerCase()] : undefined;
}

/** SQL rank of the stored status of app.messages (alias m). Inbound 'received' never moves. */
export const STORED_RANK_SQL = `(CASE m.status WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 WHEN 'received' THEN 99 ELSE 3 END)`;

/**
 * SET clause + WHERE guard advancing message $1 of business $2 to status $3 (rank $4),
 * recording $5 as error code for failures and stamping sent/delivered times once.
 */
export const ADVANCE_STATUS_SQL = `
  UPDATE app.messages m SET
    status = $3,
    error_code = CASE WHEN $3 IN ('failed', 'undelivered') THEN coalesce($5, m.error_code) ELSE m.error_code END,
    sent_at = CASE WHEN $3 IN ('sent', 'delivered', 'undelivered') THEN coalesce(m.sent_at, now()) ELSE m.sent_at END,
    delivered_at = CASE WHEN $3 = 'delivered' THEN coalesce(m.delivered_at, now()) ELSE m.delivered_at END
  WHERE m.id = $1 AND m.business_id = $2 AND m.direction = 'outbound' AND ${STORED_RANK_SQL} < $4`;
