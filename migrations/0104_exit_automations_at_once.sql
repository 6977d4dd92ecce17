-- Exit rules take effect in the transaction that causes them (docs/ARCHITECTURE.md §25): an
-- inbound text (reply), a STOP (opt-out) or a contact's deletion ends the contact's running
-- enrollments at once — on the timeline and in the counts — instead of at their next step.
-- (The scheduler still checks every rule before each step, so nothing depends on these
-- triggers for safety.) Each trigger first looks for a running enrollment of the contact
-- (index automation_enrollments_contact_idx), so contacts outside automations pay one lookup.
CREATE FUNCTION app.automation_exit_enrollments(p_business uuid, p_contact uuid, p_reason text, p_since timestamptz)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  WITH ended AS (
    UPDATE app.automation_enrollments e
       SET state = 'exited', exit_reason = p_reason, finished_at = pg_catalog.now()
      FROM app.automation_versions v
     WHERE e.business_id = p_business AND e.contact_id = p_contact AND e.state IN ('active', 'paused')
       AND v.business_id = e.business_id AND v.automation_id = e.automation_id AND v.version = e.version
       AND (p_since IS NULL OR e.enrolled_at < p_since)
       AND CASE p_reason
             WHEN 'replied' THEN coalesce((v.definition -> 'exit' ->> 'on_reply')::boolean, true)
             WHEN 'opted_out' THEN coalesce((v.definition -> 'exit' ->> 'on_opt_out')::boolean, true)
             ELSE true END
    RETURNING e.business_id, e.id, e.contact_id)
  INSERT INTO app.automation_enrollment_events (business_id, enrollment_id, contact_id, kind, details, created_at)
  SELECT business_id, id, contact_id, 'exited', jsonb_build_object('reason', p_reason), pg_catalog.clock_timestamp()
    FROM ended;
END $$;
REVOKE ALL ON FUNCTION app.automation_exit_enrollments(uuid, uuid, text, timestamptz) FROM PUBLIC;

CREATE FUNCTION app.automation_exit_on_reply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_contact uuid;
BEGIN
  SELECT v.contact_id INTO v_contact FROM app.conversations v
   WHERE v.business_id = NEW.business_id AND v.id = NEW.conversation_id;
  IF v_contact IS NOT NULL AND EXISTS (SELECT 1 FROM app.automation_enrollments e
       WHERE e.business_id = NEW.business_id AND e.contact_id = v_contact AND e.state IN ('active', 'paused')) THEN
    PERFORM app.automation_exit_enrollments(NEW.business_id, v_contact, 'replied', NEW.created_at);
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.automation_exit_on_reply() FROM PUBLIC;
-- An opt-out keyword is not a reply: its sms_opt_outs row ends the run as `opted_out`.
CREATE TRIGGER automation_exit_on_reply AFTER INSERT ON app.messages
  FOR EACH ROW WHEN (NEW.direction = 'inbound'
    AND upper(btrim(NEW.body)) NOT IN ('STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT'))
  EXECUTE FUNCTION app.automation_exit_on_reply();

CREATE FUNCTION app.automation_exit_on_opt_out() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM app.automation_enrollments e
       WHERE e.business_id = NEW.business_id AND e.contact_id = NEW.contact_id AND e.state IN ('active', 'paused')) THEN
    PERFORM app.automation_exit_enrollments(NEW.business_id, NEW.contact_id, 'opted_out', NULL);
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.automation_exit_on_opt_out() FROM PUBLIC;
CREATE TRIGGER automation_exit_on_opt_out AFTER INSERT ON app.sms_opt_outs
  FOR EACH ROW EXECUTE FUNCTION app.automation_exit_on_opt_out();

CREATE FUNCTION app.automation_exit_on_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM app.automation_enrollments e
       WHERE e.business_id = NEW.business_id AND e.contact_id = NEW.id AND e.state IN ('active', 'paused')) THEN
    PERFORM app.automation_exit_enrollments(NEW.business_id, NEW.id, 'contact_deleted', NULL);
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.automation_exit_on_delete() FROM PUBLIC;
CREATE TRIGGER automation_exit_on_delete AFTER UPDATE OF deleted_at ON app.contacts
  FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
  EXECUTE FUNCTION app.automation_exit_on_delete();
