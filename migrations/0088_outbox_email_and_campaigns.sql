-- Email joins the transactional outbox, and campaign sends become outbox rows
-- (docs/ARCHITECTURE.md §24 "Email", §21 "Campaigns: exactly once").
--
-- * channel 'email': a 1:1 email (app.contact_emails) or a campaign email
--   (app.campaign_recipients) shares its id with its outbox row, like an SMS its message.
-- * campaign_id: the row belongs to a campaign. The campaign's drain (src/outreach/
--   dispatcher.ts) delivers those rows in batches, honouring pause, cancel and quiet
--   hours; the sweep gives per-message jobs only to rows without a campaign.
-- * committed_at: the point of no return of the current attempt. An attempt sets it, fenced
--   by its own `attempts` and an unexpired lease, in the instant before the provider can
--   have the message (SMTP: with the whole message written, before the terminating dot).
--   A `sending` row found after its lease without it was certainly not delivered and is
--   sent again; with it, the outcome is unknown — reconciled where the provider can be
--   asked (Gmail, Twilio), otherwise failed as in doubt, never sent twice.
DO $$
DECLARE
  con record;
BEGIN
  SELECT c.conname INTO con FROM pg_catalog.pg_constraint c
   WHERE c.conrelid = 'app.outbox'::regclass AND c.contype = 'c'
     AND pg_catalog.pg_get_constraintdef(c.oid) ~ '\mchannel\M';
  IF con IS NULL THEN
    RAISE EXCEPTION 'no CHECK on app.outbox.channel';
  END IF;
  EXECUTE format('ALTER TABLE app.outbox DROP CONSTRAINT %I', con.conname);
  ALTER TABLE app.outbox ADD CONSTRAINT outbox_channel_check CHECK (channel IN ('sms', 'email'));
END $$;

ALTER TABLE app.outbox ADD COLUMN campaign_id uuid;
ALTER TABLE app.outbox ADD COLUMN committed_at timestamptz;
ALTER TABLE app.outbox ADD CONSTRAINT outbox_campaign_fkey
  FOREIGN KEY (business_id, campaign_id) REFERENCES app.campaigns (business_id, id) ON DELETE CASCADE;
-- The campaign drain's work list: a campaign's rows not yet delivered.
CREATE INDEX outbox_campaign_pending_idx ON app.outbox (campaign_id, id) WHERE state IN ('queued', 'sending');

-- The start of a campaign inserts its rows as the owner/admin who starts it (RLS: in her
-- business, in her own name — 0011's policy); the campaign must be one of that business.
GRANT INSERT (campaign_id) ON app.outbox TO capto_authenticated;
GRANT UPDATE (committed_at) ON app.outbox TO capto_service;
-- Only an owner/admin (the one who may start a campaign) can write a campaign's rows.
CREATE POLICY outbox_insert_campaign_admin ON app.outbox AS RESTRICTIVE FOR INSERT TO capto_authenticated
  WITH CHECK (campaign_id IS NULL OR business_id = ANY (array(select app.business_ids_with_role('admin'))));
