-- Twilio status callbacks of campaign texts find their recipient by the message SID
-- (docs/ARCHITECTURE.md §21 "Campaigns"): provider_id, per business.
CREATE INDEX campaign_recipients_provider_idx ON app.campaign_recipients (business_id, provider_id)
  WHERE provider_id IS NOT NULL;
