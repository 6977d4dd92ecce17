-- The transactional outbox (docs/ARCHITECTURE.md §24): every outgoing message is a row
-- written in the same transaction as the action that caused it; a job (`outbox.deliver`)
-- delivers it through the driver of its channel. The row holds ids and delivery state
-- only — the message itself lives in its channel's table (SMS: app.messages, whose id
-- this row shares).
--
-- state: queued (not tried) → sending (an attempt owns it until lease_until; after a
-- crash, provider_id NULL means "outcome unknown": reconcile with the provider before
-- any retry) → sent (the provider accepted it: provider_id) | failed (refused, or gave up).
CREATE TABLE app.outbox (
  id uuid PRIMARY KEY,
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  channel text NOT NULL CHECK (channel IN ('sms')),
  -- The channel's sending identity: SMS → app.twilio_configs.id.
  sender_id uuid NOT NULL,
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  first_attempt_at timestamptz,
  lease_until timestamptz,
  provider_id text CHECK (provider_id ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  error_code text CHECK (length(error_code) <= 40),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  UNIQUE (business_id, id),
  UNIQUE (channel, provider_id),
  CHECK (state <> 'sent' OR provider_id IS NOT NULL)
);
ALTER TABLE app.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.outbox FORCE ROW LEVEL SECURITY;
CREATE INDEX outbox_business_idx ON app.outbox (business_id, created_at);
CREATE INDEX outbox_created_by_idx ON app.outbox (created_by);
-- The sweep's work list: rows not yet delivered.
CREATE INDEX outbox_pending_idx ON app.outbox (created_at) WHERE state IN ('queued', 'sending');

-- A member enqueues in her own name, in a business she belongs to; she never sets the
-- delivery state. Members read their businesses' rows; only the service role delivers.
GRANT SELECT ON app.outbox TO capto_authenticated;
GRANT INSERT (id, business_id, channel, sender_id, created_by) ON app.outbox TO capto_authenticated;
CREATE POLICY outbox_select_member ON app.outbox FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY outbox_insert_member ON app.outbox FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()) AND created_by = (SELECT app.uid()));
GRANT SELECT, INSERT ON app.outbox TO capto_service;
GRANT UPDATE (state, attempts, first_attempt_at, lease_until, provider_id, error_code, updated_at, sent_at)
  ON app.outbox TO capto_service;
CREATE POLICY outbox_all_service ON app.outbox FOR ALL TO capto_service USING (true) WITH CHECK (true);
