-- Review requests (docs/ARCHITECTURE.md §26 "Review requests"): a record of every text or email
-- that asked a contact for a Google review with the attached location's review link, so the same
-- contact is not asked again within the window (180 days) and the deal shows when it was asked.
--
-- Who may do what, in the database:
--   * every member reads her businesses' review requests;
--   * owners and admins record requests for any contact of their business, from a deal or a list
--     (a list request is a campaign, which only they may start, §21);
--   * a member records a request only from a deal she owns or whose borrower (the deal's contact)
--     she owns — her own borrowers, not the whole book;
--   * always in the caller's own name (`requested_by = app.uid()`), never backdated (no grant on
--     `created_at`), never changed or deleted by a request role;
--   * capto_service writes the automation step's requests (`source = 'automation'`, in nobody's name).

CREATE TABLE app.gbp_review_requests (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL,
  deal_id uuid,
  channel text NOT NULL CHECK (channel IN ('sms', 'email')),
  source text NOT NULL CHECK (source IN ('deal', 'list', 'automation')),
  -- The message that asked: the id of its outbox row (a text, a 1:1 email or a campaign recipient).
  message_id uuid NOT NULL,
  campaign_id uuid,
  automation_id uuid,
  requested_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id),
  UNIQUE (business_id, message_id),
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE,
  FOREIGN KEY (business_id, deal_id) REFERENCES app.deals (business_id, id) ON DELETE SET NULL (deal_id),
  FOREIGN KEY (business_id, campaign_id) REFERENCES app.campaigns (business_id, id) ON DELETE SET NULL (campaign_id),
  FOREIGN KEY (business_id, automation_id) REFERENCES app.automations (business_id, id)
    ON DELETE SET NULL (automation_id)
);
CREATE INDEX gbp_review_requests_contact_idx ON app.gbp_review_requests (business_id, contact_id, created_at DESC);
CREATE INDEX gbp_review_requests_deal_idx ON app.gbp_review_requests (business_id, deal_id);
CREATE INDEX gbp_review_requests_campaign_idx ON app.gbp_review_requests (business_id, campaign_id);
CREATE INDEX gbp_review_requests_automation_idx ON app.gbp_review_requests (business_id, automation_id);
CREATE INDEX gbp_review_requests_requested_by_idx ON app.gbp_review_requests (requested_by);
ALTER TABLE app.gbp_review_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.gbp_review_requests FORCE ROW LEVEL SECURITY;

GRANT SELECT ON app.gbp_review_requests TO capto_authenticated;
GRANT INSERT (business_id, contact_id, deal_id, channel, source, message_id, campaign_id, requested_by)
  ON app.gbp_review_requests TO capto_authenticated;
CREATE POLICY gbp_review_requests_select_member ON app.gbp_review_requests FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
CREATE POLICY gbp_review_requests_insert ON app.gbp_review_requests FOR INSERT TO capto_authenticated
  WITH CHECK (
    requested_by = (select app.uid())
    AND source IN ('deal', 'list')
    AND (
      business_id = ANY (array(select app.business_ids_with_role('admin')))
      OR (source = 'deal'
          AND business_id = ANY (array(select app.member_business_ids()))
          AND EXISTS (
            SELECT 1 FROM app.deals d
              LEFT JOIN app.contacts c ON c.business_id = d.business_id AND c.id = d.contact_id
             WHERE d.business_id = gbp_review_requests.business_id AND d.id = gbp_review_requests.deal_id
               AND d.contact_id = gbp_review_requests.contact_id
               AND (d.owner_id = (select app.uid()) OR c.owner_id = (select app.uid()))))
    )
  );
GRANT SELECT, INSERT ON app.gbp_review_requests TO capto_service;
CREATE POLICY gbp_review_requests_all_service ON app.gbp_review_requests FOR ALL TO capto_service
  USING (true) WITH CHECK (true);
