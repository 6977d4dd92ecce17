-- Automation triggers (docs/ARCHITECTURE.md §25): the CRM's own writes emit trigger events in
-- the same transaction, from database triggers on the tables every code path writes — contacts
-- (created by hand, by import or by an inbound text; status changed), list_members (added to a
-- list), deal_stage_changes (stage changed) and messages (inbound text: keywords). An event is a
-- row of ids; the scheduler job turns it into enrollments (conditions, re-enrollment window) and
-- deletes it in one service transaction. Each trigger first asks whether the business has an
-- active automation of that kind, so a CSV import without one pays one indexed lookup per
-- batch statement, and with one, one INSERT … SELECT per batch statement.
CREATE TABLE app.automation_trigger_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  type text NOT NULL CHECK (type IN (
    'contact_created', 'list_added', 'deal_stage_changed', 'contact_status_changed', 'inbound_sms'
  )),
  contact_id uuid NOT NULL,
  deal_id uuid,
  -- The source row: contact, list, stage change, message (the enrollment's trigger_event_id
  -- is derived from it, so an event seen twice enrolls once).
  source_id uuid NOT NULL,
  -- Small facts of the event: how a contact was created, the from/to status or stage.
  details jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object' AND pg_column_size(details) <= 512),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX automation_trigger_events_business_idx ON app.automation_trigger_events (business_id, id);
ALTER TABLE app.automation_trigger_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.automation_trigger_events FORCE ROW LEVEL SECURITY;
-- Members may see their businesses' pending events (ids only); nobody but the triggers below
-- (as the table owner) writes them, and only the service consumes them.
GRANT SELECT ON app.automation_trigger_events TO capto_authenticated;
CREATE POLICY automation_trigger_events_select_member ON app.automation_trigger_events FOR SELECT
  TO capto_authenticated USING (business_id = ANY (array(select app.member_business_ids())));
GRANT SELECT, DELETE ON app.automation_trigger_events TO capto_service;
-- The intake locks the events it takes (SELECT … FOR UPDATE needs an UPDATE privilege).
GRANT UPDATE (details) ON app.automation_trigger_events TO capto_service;
CREATE POLICY automation_trigger_events_all_service ON app.automation_trigger_events FOR ALL TO capto_service
  USING (true) WITH CHECK (true);

-- Contacts created: one statement-level trigger (an import batch is one statement).
CREATE FUNCTION app.automation_contacts_created() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO app.automation_trigger_events (business_id, type, contact_id, source_id, details)
  SELECT n.business_id, 'contact_created', n.id, n.id,
         jsonb_build_object('via', CASE WHEN n.import_job_id IS NOT NULL THEN 'import'
                                        WHEN n.source = 'sms' THEN 'inbound_sms' ELSE 'manual' END)
    FROM new_contacts n
   WHERE n.deleted_at IS NULL
     AND n.business_id IN (SELECT a.business_id FROM app.automations a
                            WHERE a.status = 'active' AND a.trigger_type = 'contact_created'
                              AND a.business_id IN (SELECT DISTINCT business_id FROM new_contacts));
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.automation_contacts_created() FROM PUBLIC;
CREATE TRIGGER automation_contacts_created AFTER INSERT ON app.contacts
  REFERENCING NEW TABLE AS new_contacts FOR EACH STATEMENT EXECUTE FUNCTION app.automation_contacts_created();

-- Contact status changed (a row trigger: status changes come one contact at a time).
CREATE FUNCTION app.automation_contact_status_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM app.automations a WHERE a.business_id = NEW.business_id AND a.status = 'active'
               AND a.trigger_type = 'contact_status_changed') THEN
    INSERT INTO app.automation_trigger_events (business_id, type, contact_id, source_id, details)
    VALUES (NEW.business_id, 'contact_status_changed', NEW.id, gen_random_uuid(),
            jsonb_build_object('from', OLD.status, 'to', NEW.status));
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.automation_contact_status_changed() FROM PUBLIC;
CREATE TRIGGER automation_contact_status_changed AFTER UPDATE OF status ON app.contacts
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.deleted_at IS NULL)
  EXECUTE FUNCTION app.automation_contact_status_changed();

-- Added to a list (statement level: bulk adds are one statement).
CREATE FUNCTION app.automation_list_members_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO app.automation_trigger_events (business_id, type, contact_id, source_id, details)
  SELECT n.business_id, 'list_added', n.contact_id, n.list_id,
         jsonb_build_object('added_at', extract(epoch FROM n.added_at)::bigint)
    FROM new_members n
   WHERE n.business_id IN (SELECT a.business_id FROM app.automations a
                            WHERE a.status = 'active' AND a.trigger_type = 'list_added'
                              AND a.business_id IN (SELECT DISTINCT business_id FROM new_members));
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.automation_list_members_added() FROM PUBLIC;
CREATE TRIGGER automation_list_members_added AFTER INSERT ON app.list_members
  REFERENCING NEW TABLE AS new_members FOR EACH STATEMENT EXECUTE FUNCTION app.automation_list_members_added();

-- Deal stage changed (every path records a deal_stage_changes row: 0004's trigger).
CREATE FUNCTION app.automation_deal_stage_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO app.automation_trigger_events (business_id, type, contact_id, deal_id, source_id, details)
  SELECT d.business_id, 'deal_stage_changed', d.contact_id, d.id, n.id,
         jsonb_build_object('from', n.from_stage, 'to', n.to_stage)
    FROM new_changes n
    JOIN app.deals d ON d.business_id = n.business_id AND d.id = n.deal_id
   WHERE d.contact_id IS NOT NULL
     AND n.business_id IN (SELECT a.business_id FROM app.automations a
                            WHERE a.status = 'active' AND a.trigger_type = 'deal_stage_changed'
                              AND a.business_id IN (SELECT DISTINCT business_id FROM new_changes));
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.automation_deal_stage_changed() FROM PUBLIC;
CREATE TRIGGER automation_deal_stage_changed AFTER INSERT ON app.deal_stage_changes
  REFERENCING NEW TABLE AS new_changes FOR EACH STATEMENT EXECUTE FUNCTION app.automation_deal_stage_changed();

-- Inbound texts, for keyword triggers (a duplicated webhook stores no second message: the
-- message's Twilio SID is unique).
CREATE FUNCTION app.automation_inbound_sms() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM app.automations a WHERE a.business_id = NEW.business_id AND a.status = 'active'
               AND a.trigger_type = 'inbound_sms_keyword') THEN
    INSERT INTO app.automation_trigger_events (business_id, type, contact_id, source_id)
    SELECT NEW.business_id, 'inbound_sms', v.contact_id, NEW.id
      FROM app.conversations v WHERE v.business_id = NEW.business_id AND v.id = NEW.conversation_id;
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.automation_inbound_sms() FROM PUBLIC;
CREATE TRIGGER automation_inbound_sms AFTER INSERT ON app.messages
  FOR EACH ROW WHEN (NEW.direction = 'inbound') EXECUTE FUNCTION app.automation_inbound_sms();
