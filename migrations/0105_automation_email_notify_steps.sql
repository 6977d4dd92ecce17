-- Two automation steps that write as the system (docs/ARCHITECTURE.md §25 "Steps"):
--
-- * send_email: the scheduler (capto_service) queues a 1:1 email exactly as a member does
--   (docs/ARCHITECTURE.md §21 "1:1 email"), but in nobody's name: sent_by is NULL, the row is
--   'queued', and its outbox row is written in the same transaction. The demo trigger of 0086
--   refuses demo businesses for every role.
-- * notify: an in-app notification of kind 'automation' to a member. Only capto_service
--   inserts notifications already (0071); the recipient must still be a member (0071's
--   foreign key to memberships).
GRANT INSERT (business_id, contact_id, sender_id, sent_by, to_address, subject, body) ON app.contact_emails
  TO capto_service;
CREATE POLICY contact_emails_insert_service ON app.contact_emails FOR INSERT TO capto_service
  WITH CHECK (sent_by IS NULL AND status = 'queued');

DO $$
DECLARE
  con record;
BEGIN
  SELECT c.conname INTO con FROM pg_catalog.pg_constraint c
   WHERE c.conrelid = 'app.notifications'::regclass AND c.contype = 'c'
     AND pg_catalog.pg_get_constraintdef(c.oid) ~ '\mkind\M';
  IF con IS NULL THEN
    RAISE EXCEPTION 'no CHECK on app.notifications.kind';
  END IF;
  EXECUTE format('ALTER TABLE app.notifications DROP CONSTRAINT %I', con.conname);
  SELECT c.conname INTO con FROM pg_catalog.pg_constraint c
   WHERE c.conrelid = 'app.notification_settings'::regclass AND c.contype = 'c'
     AND pg_catalog.pg_get_constraintdef(c.oid) ~ '\memail_kinds\M';
  IF con IS NULL THEN
    RAISE EXCEPTION 'no CHECK on app.notification_settings.email_kinds';
  END IF;
  EXECUTE format('ALTER TABLE app.notification_settings DROP CONSTRAINT %I', con.conname);
END $$;
ALTER TABLE app.notifications ADD CONSTRAINT notifications_kind_check CHECK (
  kind IN ('inbound_text', 'task_due', 'assignment', 'import_finished', 'invitation_accepted', 'automation')
);
ALTER TABLE app.notification_settings ADD CONSTRAINT notification_settings_email_kinds_check CHECK (
  email_kinds <@ ARRAY['inbound_text', 'task_due', 'assignment', 'import_finished', 'invitation_accepted',
                       'automation']::text[]
);
