-- Automated email is commercial mail (docs/ARCHITECTURE.md §25 `send_email`): a contact
-- email queued by an automation is marked `automated`, and the outbox's email driver gives
-- it what campaign mail carries — the one-click unsubscribe headers (RFC 8058) and the
-- footer with the business's postal address. A member's 1:1 email cannot set the flag (no
-- column grant); the service inserts only automated rows.
ALTER TABLE app.contact_emails ADD COLUMN automated boolean NOT NULL DEFAULT false;
GRANT INSERT (automated) ON app.contact_emails TO capto_service;
DROP POLICY contact_emails_insert_service ON app.contact_emails;
CREATE POLICY contact_emails_insert_service ON app.contact_emails FOR INSERT TO capto_service
  WITH CHECK (sent_by IS NULL AND status = 'queued' AND automated);
