-- One-to-one email from a contact (docs/ARCHITECTURE.md §21 "1:1 email"). A member queues
-- a message in her own name (INSERT, status 'queued'); only the service (the dispatcher)
-- moves it on — the same claim/record protocol as campaign recipients, so a message is
-- sent at most once and an in-doubt send is reported, never repeated.
CREATE TABLE app.contact_emails (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL,
  sender_id uuid,
  sent_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  to_address text NOT NULL CHECK (length(to_address) BETWEEN 3 AND 254),
  subject text NOT NULL CHECK (length(btrim(subject)) BETWEEN 1 AND 500),
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 50000),
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
  reason text CHECK (length(reason) <= 300),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND 100),
  claimed_by text CHECK (length(claimed_by) <= 100),
  claimed_at timestamptz,
  provider_id text CHECK (length(provider_id) <= 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  UNIQUE (business_id, id),
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE,
  FOREIGN KEY (business_id, sender_id) REFERENCES app.email_senders (business_id, id) ON DELETE SET NULL (sender_id)
);
CREATE INDEX contact_emails_queue_idx ON app.contact_emails (created_at) WHERE status = 'queued';
CREATE INDEX contact_emails_inflight_idx ON app.contact_emails (claimed_at) WHERE status = 'sending';
CREATE INDEX contact_emails_contact_idx ON app.contact_emails (business_id, contact_id, created_at);
CREATE INDEX contact_emails_sender_idx ON app.contact_emails (business_id, sender_id);
CREATE INDEX contact_emails_sent_by_idx ON app.contact_emails (sent_by);
ALTER TABLE app.contact_emails ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.contact_emails FORCE ROW LEVEL SECURITY;
GRANT SELECT ON app.contact_emails TO capto_authenticated;
GRANT INSERT (business_id, contact_id, sender_id, sent_by, to_address, subject, body) ON app.contact_emails
  TO capto_authenticated;
CREATE POLICY contact_emails_select_member ON app.contact_emails FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
CREATE POLICY contact_emails_insert_member ON app.contact_emails FOR INSERT TO capto_authenticated
  WITH CHECK (business_id = ANY (array(select app.member_business_ids())) AND sent_by = (select app.uid())
              AND status = 'queued' AND NOT app.is_demo_business(business_id));
GRANT SELECT ON app.contact_emails TO capto_service;
GRANT UPDATE (status, reason, attempts, claimed_by, claimed_at, provider_id, updated_at, sent_at) ON app.contact_emails
  TO capto_service;
CREATE POLICY contact_emails_select_service ON app.contact_emails FOR SELECT TO capto_service USING (true);
CREATE POLICY contact_emails_update_service ON app.contact_emails FOR UPDATE TO capto_service USING (true) WITH CHECK (true);
