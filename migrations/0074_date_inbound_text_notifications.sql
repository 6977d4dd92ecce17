-- An inbound-text notification carries the text's own time and read state
-- (docs/ARCHITECTURE.md §12.1). A text that arrives now is unchanged: created now,
-- unread. A text written with an earlier time or already read — the demo workspace's
-- seeded threads, a restored history — no longer lands in every member's bell as a
-- fresh unread notification each, but as what it is: an old, read message.
--
-- Same recipients and rules as 0071's version (members only, the contact's owner or
-- every member when nobody owns the contact); only the two columns are new.
CREATE OR REPLACE FUNCTION app.notify_inbound_text() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  conv record;
BEGIN
  SELECT cv.id, cv.contact_id, c.owner_id INTO conv
    FROM app.conversations cv JOIN app.contacts c ON c.business_id = cv.business_id AND c.id = cv.contact_id
   WHERE cv.business_id = NEW.business_id AND cv.id = NEW.conversation_id;
  IF NOT FOUND THEN RETURN NULL; END IF;
  INSERT INTO app.notifications (business_id, user_id, kind, title, body, link, subject_id, created_at, read_at)
  SELECT m.business_id, m.user_id, 'inbound_text',
         pg_catalog.left('New text from ' || app.contact_display_name(NEW.business_id, conv.contact_id), 200),
         pg_catalog.left(coalesce(NEW.body, ''), 140), '/b/' || NEW.business_id || '/inbox/' || conv.id, NEW.id,
         LEAST(coalesce(NEW.created_at, pg_catalog.now()), pg_catalog.now()), NEW.read_at
    FROM app.memberships m
   WHERE m.business_id = NEW.business_id AND (conv.owner_id IS NULL OR m.user_id = conv.owner_id);
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.notify_inbound_text() FROM PUBLIC;
