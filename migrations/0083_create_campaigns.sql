-- Email and SMS campaigns (docs/ARCHITECTURE.md "Campaigns"): campaigns, one row per
-- (campaign, contact) recipient — the unique key that makes a send happen at most once —,
-- the per-business email suppression list, and cross-node send throttles.
--
-- Who may do what, in the database:
--   * campaigns: members read; any member creates a draft in her own name and edits her
--     own drafts; any member may PAUSE a scheduled or sending campaign (a brake anyone
--     can pull); only owners and admins start (schedule/send), resume or cancel one, or
--     edit others' drafts. A trigger allows only the state machine's transitions and
--     freezes the audience, template and sender once a campaign has left 'draft'.
--   * campaign_recipients: members read; owners/admins insert them (the start, in the
--     same transaction that moves the campaign out of 'draft'); only the service (the
--     dispatcher) changes their status.
--   * email_suppressions: members read; only the service writes (unsubscribes, hard
--     bounces) — no user can un-suppress an address that asked to stop.
--   * send_throttles: service only.

-- SMS throughput per Twilio number (messages per second; Twilio's long-code default is 1).
ALTER TABLE app.twilio_configs
  ADD COLUMN messages_per_second integer NOT NULL DEFAULT 1 CHECK (messages_per_second BETWEEN 1 AND 100);
GRANT SELECT (messages_per_second) ON app.twilio_configs TO capto_authenticated;

-- ---------------------------------------------------------------------------
-- app.email_suppressions
-- ---------------------------------------------------------------------------
CREATE TABLE app.email_suppressions (
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email = lower(email)),
  reason text NOT NULL CHECK (reason IN ('unsubscribed', 'hard_bounce')),
  detail text CHECK (length(detail) <= 300),
  contact_id uuid,
  campaign_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, email)
);
ALTER TABLE app.email_suppressions ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.email_suppressions FORCE ROW LEVEL SECURITY;
GRANT SELECT ON app.email_suppressions TO capto_authenticated;
CREATE POLICY email_suppressions_select_member ON app.email_suppressions FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
GRANT SELECT, INSERT ON app.email_suppressions TO capto_service;
CREATE POLICY email_suppressions_all_service ON app.email_suppressions FOR ALL TO capto_service
  USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- app.campaigns
-- ---------------------------------------------------------------------------
CREATE TABLE app.campaigns (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  channel text NOT NULL CHECK (channel IN ('sms', 'email')),
  list_id uuid,
  template_id uuid NOT NULL,
  email_sender_id uuid,
  twilio_config_id uuid,
  send_at timestamptz,
  status text NOT NULL DEFAULT 'draft'
    CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'completed', 'cancelled')),
  -- What is sent, fixed when the campaign starts (a later template edit changes nothing).
  subject text CHECK (length(subject) <= 500),
  body text CHECK (length(body) <= 50000),
  footer_address text CHECK (length(footer_address) <= 500),
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  started_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  completed_at timestamptz,
  UNIQUE (business_id, id),
  FOREIGN KEY (business_id, list_id) REFERENCES app.lists (business_id, id) ON DELETE SET NULL (list_id),
  FOREIGN KEY (business_id, template_id) REFERENCES app.message_templates (business_id, id),
  FOREIGN KEY (business_id, email_sender_id) REFERENCES app.email_senders (business_id, id)
    ON DELETE SET NULL (email_sender_id),
  FOREIGN KEY (business_id, twilio_config_id) REFERENCES app.twilio_configs (business_id, id)
    ON DELETE SET NULL (twilio_config_id),
  CHECK (channel = 'email' OR email_sender_id IS NULL),
  CHECK (channel = 'sms' OR twilio_config_id IS NULL)
);
CREATE INDEX campaigns_business_idx ON app.campaigns (business_id, created_at);
CREATE INDEX campaigns_active_idx ON app.campaigns (status, send_at) WHERE status IN ('scheduled', 'sending');
CREATE INDEX campaigns_template_idx ON app.campaigns (business_id, template_id);
CREATE INDEX campaigns_list_idx ON app.campaigns (business_id, list_id);
CREATE INDEX campaigns_sender_idx ON app.campaigns (business_id, email_sender_id);
CREATE INDEX campaigns_twilio_idx ON app.campaigns (business_id, twilio_config_id);
CREATE INDEX campaigns_created_by_idx ON app.campaigns (created_by);
CREATE INDEX campaigns_started_by_idx ON app.campaigns (started_by);
ALTER TABLE app.campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.campaigns FORCE ROW LEVEL SECURITY;
CREATE TRIGGER campaigns_touch_updated_at BEFORE UPDATE ON app.campaigns
  FOR EACH ROW EXECUTE FUNCTION app.crm_touch_updated_at();

-- The state machine (docs/ARCHITECTURE.md "Campaigns"), for every role.
CREATE FUNCTION app.campaigns_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
       (OLD.status = 'draft' AND NEW.status IN ('scheduled', 'sending'))
    OR (OLD.status = 'scheduled' AND NEW.status IN ('sending', 'paused', 'cancelled'))
    OR (OLD.status = 'sending' AND NEW.status IN ('paused', 'completed', 'cancelled'))
    OR (OLD.status = 'paused' AND NEW.status IN ('scheduled', 'sending', 'cancelled'))
  ) THEN
    RAISE EXCEPTION 'a campaign cannot go from % to %', OLD.status, NEW.status
      USING ERRCODE = 'P0001', HINT = 'invalid_transition';
  END IF;
  IF OLD.status <> 'draft' AND (
       NEW.channel IS DISTINCT FROM OLD.channel OR NEW.list_id IS DISTINCT FROM OLD.list_id
    OR NEW.template_id IS DISTINCT FROM OLD.template_id OR NEW.subject IS DISTINCT FROM OLD.subject
    OR NEW.body IS DISTINCT FROM OLD.body OR NEW.footer_address IS DISTINCT FROM OLD.footer_address
    OR NEW.email_sender_id IS DISTINCT FROM OLD.email_sender_id
    OR NEW.twilio_config_id IS DISTINCT FROM OLD.twilio_config_id)
    -- a removed sender/list (ON DELETE SET NULL) is not an edit
    AND NOT (NEW.email_sender_id IS NULL AND OLD.email_sender_id IS NOT NULL)
    AND NOT (NEW.twilio_config_id IS NULL AND OLD.twilio_config_id IS NOT NULL)
    AND NOT (NEW.list_id IS NULL AND OLD.list_id IS NOT NULL)
  THEN
    RAISE EXCEPTION 'a campaign''s audience, content and sender are fixed once it has started'
      USING ERRCODE = 'P0001', HINT = 'campaign_not_draft';
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.campaigns_guard() FROM PUBLIC;
CREATE TRIGGER campaigns_guard BEFORE UPDATE ON app.campaigns FOR EACH ROW EXECUTE FUNCTION app.campaigns_guard();

GRANT SELECT ON app.campaigns TO capto_authenticated;
GRANT INSERT (id, business_id, name, channel, list_id, template_id, email_sender_id, twilio_config_id, send_at, created_by)
  ON app.campaigns TO capto_authenticated;
GRANT UPDATE (name, list_id, template_id, email_sender_id, twilio_config_id, send_at, status, subject, body,
              footer_address, started_by, started_at)
  ON app.campaigns TO capto_authenticated;
GRANT DELETE ON app.campaigns TO capto_authenticated;
CREATE POLICY campaigns_select_member ON app.campaigns FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
CREATE POLICY campaigns_insert_member ON app.campaigns FOR INSERT TO capto_authenticated
  WITH CHECK (business_id = ANY (array(select app.member_business_ids()))
              AND created_by = (select app.uid()) AND status = 'draft');
-- Owners/admins: any change the state machine allows.
CREATE POLICY campaigns_update_admin ON app.campaigns FOR UPDATE TO capto_authenticated
  USING (business_id = ANY (array(select app.business_ids_with_role('admin'))))
  WITH CHECK (business_id = ANY (array(select app.business_ids_with_role('admin'))));
-- Members: their own drafts, kept drafts.
CREATE POLICY campaigns_update_own_draft ON app.campaigns FOR UPDATE TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())) AND created_by = (select app.uid())
         AND status = 'draft')
  WITH CHECK (business_id = ANY (array(select app.member_business_ids())) AND created_by = (select app.uid())
              AND status = 'draft');
-- Members: pause (the trigger refuses any other transition from these states to 'paused').
CREATE POLICY campaigns_update_pause ON app.campaigns FOR UPDATE TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())) AND status IN ('scheduled', 'sending'))
  WITH CHECK (business_id = ANY (array(select app.member_business_ids())) AND status = 'paused');
CREATE POLICY campaigns_delete_draft ON app.campaigns FOR DELETE TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())) AND status = 'draft'
         AND (created_by = (select app.uid()) OR business_id = ANY (array(select app.business_ids_with_role('admin')))));
GRANT SELECT ON app.campaigns TO capto_service;
GRANT UPDATE (status, completed_at) ON app.campaigns TO capto_service;
CREATE POLICY campaigns_select_service ON app.campaigns FOR SELECT TO capto_service USING (true);
CREATE POLICY campaigns_update_service ON app.campaigns FOR UPDATE TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- app.campaign_recipients: one row per (campaign, contact), made when it starts.
-- ---------------------------------------------------------------------------
CREATE TABLE app.campaign_recipients (
  -- Stable per recipient: the Message-ID / idempotency key of its one send.
  id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  contact_id uuid NOT NULL,
  address text CHECK (length(address) <= 254),
  status text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'skipped')),
  reason text CHECK (length(reason) <= 300),
  claimed_by text CHECK (length(claimed_by) <= 100),
  claimed_at timestamptz,
  provider_id text CHECK (length(provider_id) <= 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  PRIMARY KEY (business_id, campaign_id, contact_id),
  FOREIGN KEY (business_id, campaign_id) REFERENCES app.campaigns (business_id, id) ON DELETE CASCADE,
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE,
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND 100),
  CHECK (status NOT IN ('skipped', 'failed') OR reason IS NOT NULL)
);
-- The dispatcher's claim: the next queued recipients of a campaign.
CREATE INDEX campaign_recipients_queue_idx ON app.campaign_recipients (campaign_id, contact_id) WHERE status = 'queued';
CREATE INDEX campaign_recipients_inflight_idx ON app.campaign_recipients (claimed_at) WHERE status = 'sending';
CREATE INDEX campaign_recipients_contact_idx ON app.campaign_recipients (business_id, contact_id, updated_at);
CREATE INDEX campaign_recipients_status_idx ON app.campaign_recipients (business_id, campaign_id, status);
ALTER TABLE app.campaign_recipients ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.campaign_recipients FORCE ROW LEVEL SECURITY;
GRANT SELECT ON app.campaign_recipients TO capto_authenticated;
GRANT INSERT (business_id, campaign_id, contact_id, address, status, reason) ON app.campaign_recipients
  TO capto_authenticated;
CREATE POLICY campaign_recipients_select_member ON app.campaign_recipients FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
-- Only at the start, by an owner/admin, and only queued or skipped rows.
CREATE POLICY campaign_recipients_insert_admin ON app.campaign_recipients FOR INSERT TO capto_authenticated
  WITH CHECK (
    business_id = ANY (array(select app.business_ids_with_role('admin')))
    AND status IN ('queued', 'skipped')
    AND EXISTS (SELECT 1 FROM app.campaigns c
                 WHERE c.business_id = campaign_recipients.business_id AND c.id = campaign_recipients.campaign_id
                   AND c.status IN ('scheduled', 'sending') AND c.started_at IS NOT NULL)
  );
GRANT SELECT ON app.campaign_recipients TO capto_service;
GRANT UPDATE (status, reason, claimed_by, claimed_at, provider_id, updated_at, sent_at, attempts) ON app.campaign_recipients
  TO capto_service;
CREATE POLICY campaign_recipients_select_service ON app.campaign_recipients FOR SELECT TO capto_service USING (true);
CREATE POLICY campaign_recipients_update_service ON app.campaign_recipients FOR UPDATE TO capto_service
  USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- app.send_throttles: the next free send slot per sender, shared by every node.
-- ---------------------------------------------------------------------------
CREATE TABLE app.send_throttles (
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  key text NOT NULL CHECK (length(key) <= 100),
  next_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, key)
);
ALTER TABLE app.send_throttles ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.send_throttles FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE ON app.send_throttles TO capto_service;
CREATE POLICY send_throttles_all_service ON app.send_throttles FOR ALL TO capto_service USING (true) WITH CHECK (true);
