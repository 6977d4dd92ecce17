-- Automations (docs/ARCHITECTURE.md §25): a trigger, conditions and an ordered list of
-- steps, run per contact as an enrollment by the scheduler job (src/jobs/automations-run.ts).
--
-- Who may do what, in the database:
--   * automations and automation_versions: every member reads; only owners and admins
--     create, edit (a new version) and activate or pause. A version is never changed:
--     editing writes the next version and moves the automation's `version` to it, so an
--     enrollment keeps running the definition it started with.
--   * automation_enrollments and automation_enrollment_events: every member reads; only
--     the service (triggers' enrollment and the scheduler) writes them.
--   * Pausing an automation holds its active enrollments (state `paused`) and activating
--     it again releases them, in the same statement (trigger automations_hold_enrollments).

-- ---------------------------------------------------------------------------
-- app.automations and app.automation_versions
-- ---------------------------------------------------------------------------
CREATE TABLE app.automations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused')),
  -- The current definition; new enrollments start on it.
  version integer NOT NULL DEFAULT 1 CHECK (version BETWEEN 1 AND 100000),
  -- Copied from the current version so a trigger finds its automations by index.
  trigger_type text NOT NULL CHECK (trigger_type IN (
    'contact_created', 'list_added', 'deal_stage_changed', 'contact_status_changed', 'inbound_sms_keyword', 'date'
  )),
  recipe text CHECK (recipe ~ '^[a-z][a-z0-9_]{0,39}$'),
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  activated_at timestamptz,
  UNIQUE (business_id, id)
);
CREATE INDEX automations_business_idx ON app.automations (business_id, created_at, id);
CREATE INDEX automations_trigger_idx ON app.automations (business_id, trigger_type) WHERE status = 'active';
CREATE INDEX automations_created_by_idx ON app.automations (created_by);
CREATE INDEX automations_version_idx ON app.automations (business_id, id, version);
ALTER TABLE app.automations ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.automations FORCE ROW LEVEL SECURITY;
CREATE TRIGGER automations_touch_updated_at BEFORE UPDATE ON app.automations
  FOR EACH ROW EXECUTE FUNCTION app.crm_touch_updated_at();

CREATE TABLE app.automation_versions (
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  automation_id uuid NOT NULL,
  version integer NOT NULL CHECK (version BETWEEN 1 AND 100000),
  -- {trigger, conditions, steps, exit}: validated by src/automations/definition.ts.
  definition jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object' AND pg_column_size(definition) <= 65536),
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, automation_id, version),
  FOREIGN KEY (business_id, automation_id) REFERENCES app.automations (business_id, id) ON DELETE CASCADE
);
CREATE INDEX automation_versions_created_by_idx ON app.automation_versions (created_by);
ALTER TABLE app.automation_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.automation_versions FORCE ROW LEVEL SECURITY;
-- The current version must exist (checked at commit, so the automation and its first
-- version are inserted in either order in one transaction).
ALTER TABLE app.automations ADD CONSTRAINT automations_current_version_fkey
  FOREIGN KEY (business_id, id, version) REFERENCES app.automation_versions (business_id, automation_id, version)
  DEFERRABLE INITIALLY DEFERRED;

-- The automation's state machine, for every role: draft → active ⇄ paused; the version
-- only moves forward one at a time.
CREATE FUNCTION app.automations_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
       (OLD.status = 'draft' AND NEW.status = 'active')
    OR (OLD.status = 'active' AND NEW.status = 'paused')
    OR (OLD.status = 'paused' AND NEW.status = 'active')
  ) THEN
    RAISE EXCEPTION 'an automation cannot go from % to %', OLD.status, NEW.status
      USING ERRCODE = 'P0001', HINT = 'invalid_transition';
  END IF;
  IF NEW.version IS DISTINCT FROM OLD.version AND NEW.version <> OLD.version + 1 THEN
    RAISE EXCEPTION 'an automation''s version only moves to the next one'
      USING ERRCODE = 'P0001', HINT = 'invalid_version';
  END IF;
  IF NEW.status = 'active' AND OLD.status <> 'active' THEN
    NEW.activated_at := pg_catalog.now();
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.automations_guard() FROM PUBLIC;
CREATE TRIGGER automations_guard BEFORE UPDATE ON app.automations
  FOR EACH ROW EXECUTE FUNCTION app.automations_guard();

GRANT SELECT ON app.automations TO capto_authenticated;
GRANT INSERT (id, business_id, name, version, trigger_type, recipe, created_by) ON app.automations TO capto_authenticated;
GRANT UPDATE (name, status, version, trigger_type) ON app.automations TO capto_authenticated;
CREATE POLICY automations_select_member ON app.automations FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
CREATE POLICY automations_insert_admin ON app.automations FOR INSERT TO capto_authenticated
  WITH CHECK (business_id = ANY (array(select app.business_ids_with_role('admin')))
              AND created_by = (select app.uid()) AND status = 'draft' AND version = 1);
CREATE POLICY automations_update_admin ON app.automations FOR UPDATE TO capto_authenticated
  USING (business_id = ANY (array(select app.business_ids_with_role('admin'))))
  WITH CHECK (business_id = ANY (array(select app.business_ids_with_role('admin'))));
GRANT SELECT ON app.automations TO capto_service;
CREATE POLICY automations_select_service ON app.automations FOR SELECT TO capto_service USING (true);

GRANT SELECT ON app.automation_versions TO capto_authenticated;
GRANT INSERT (business_id, automation_id, version, definition, created_by) ON app.automation_versions
  TO capto_authenticated;
CREATE POLICY automation_versions_select_member ON app.automation_versions FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
CREATE POLICY automation_versions_insert_admin ON app.automation_versions FOR INSERT TO capto_authenticated
  WITH CHECK (business_id = ANY (array(select app.business_ids_with_role('admin')))
              AND created_by = (select app.uid()));
GRANT SELECT ON app.automation_versions TO capto_service;
CREATE POLICY automation_versions_select_service ON app.automation_versions FOR SELECT TO capto_service USING (true);

-- ---------------------------------------------------------------------------
-- app.automation_enrollments: one contact's run of one automation for one trigger event.
-- ---------------------------------------------------------------------------
CREATE TABLE app.automation_enrollments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  automation_id uuid NOT NULL,
  -- The definition this enrollment runs to its end, whatever later edits do.
  version integer NOT NULL,
  contact_id uuid NOT NULL,
  -- The deal whose event enrolled the contact (deal triggers), for the "left the stage" exit.
  deal_id uuid,
  -- What enrolled it: the event's own id (a contact, a message, a stage change) or a date
  -- key; a retried or duplicated event finds this key taken and enrolls nobody.
  trigger_event_id text NOT NULL CHECK (trigger_event_id ~ '^[A-Za-z0-9:._-]{1,200}$'),
  state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'completed', 'exited', 'failed')),
  -- The next step to run (0-based) and when (meaningful while active or paused).
  step_index integer NOT NULL DEFAULT 0 CHECK (step_index BETWEEN 0 AND 1000),
  next_run_at timestamptz NOT NULL DEFAULT now(),
  exit_reason text CHECK (exit_reason IN (
    'replied', 'opted_out', 'contact_deleted', 'deal_left_stage', 'deal_deleted', 'conditions_not_met'
  )),
  error_code text CHECK (error_code ~ '^[a-z0-9_]{1,60}$'),
  enrolled_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (business_id, id),
  UNIQUE (business_id, automation_id, contact_id, trigger_event_id),
  FOREIGN KEY (business_id, automation_id, version)
    REFERENCES app.automation_versions (business_id, automation_id, version) ON DELETE CASCADE,
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE,
  FOREIGN KEY (business_id, deal_id) REFERENCES app.deals (business_id, id) ON DELETE SET NULL (deal_id),
  CHECK ((state IN ('active', 'paused')) = (finished_at IS NULL)),
  CHECK (state <> 'exited' OR exit_reason IS NOT NULL),
  CHECK (state <> 'failed' OR error_code IS NOT NULL)
);
-- The scheduler's work list, across businesses: due active enrollments.
CREATE INDEX automation_enrollments_due_idx ON app.automation_enrollments (next_run_at) WHERE state = 'active';
CREATE INDEX automation_enrollments_automation_idx ON app.automation_enrollments (business_id, automation_id, version, state);
CREATE INDEX automation_enrollments_contact_idx ON app.automation_enrollments (business_id, contact_id, enrolled_at);
CREATE INDEX automation_enrollments_deal_idx ON app.automation_enrollments (business_id, deal_id) WHERE deal_id IS NOT NULL;
ALTER TABLE app.automation_enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.automation_enrollments FORCE ROW LEVEL SECURITY;
CREATE TRIGGER automation_enrollments_touch_updated_at BEFORE UPDATE ON app.automation_enrollments
  FOR EACH ROW EXECUTE FUNCTION app.crm_touch_updated_at();

-- The enrollment's state machine (docs/ARCHITECTURE.md §25), for every role:
-- active ⇄ paused; active → completed | exited | failed; paused → exited; the rest final.
-- A step only moves forward, and the definition an enrollment runs never changes.
CREATE FUNCTION app.automation_enrollments_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.state IS DISTINCT FROM OLD.state AND NOT (
       (OLD.state = 'active' AND NEW.state IN ('paused', 'completed', 'exited', 'failed'))
    OR (OLD.state = 'paused' AND NEW.state IN ('active', 'exited'))
  ) THEN
    RAISE EXCEPTION 'an enrollment cannot go from % to %', OLD.state, NEW.state
      USING ERRCODE = 'P0001', HINT = 'invalid_transition';
  END IF;
  IF NEW.step_index < OLD.step_index OR NEW.version IS DISTINCT FROM OLD.version
     OR NEW.automation_id IS DISTINCT FROM OLD.automation_id OR NEW.contact_id IS DISTINCT FROM OLD.contact_id
     OR NEW.trigger_event_id IS DISTINCT FROM OLD.trigger_event_id THEN
    RAISE EXCEPTION 'an enrollment''s automation, version, contact and past steps are fixed'
      USING ERRCODE = 'P0001', HINT = 'enrollment_fixed';
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.automation_enrollments_guard() FROM PUBLIC;
CREATE TRIGGER automation_enrollments_guard BEFORE UPDATE ON app.automation_enrollments
  FOR EACH ROW EXECUTE FUNCTION app.automation_enrollments_guard();

GRANT SELECT ON app.automation_enrollments TO capto_authenticated;
CREATE POLICY automation_enrollments_select_member ON app.automation_enrollments FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
GRANT SELECT, INSERT ON app.automation_enrollments TO capto_service;
GRANT UPDATE (state, step_index, next_run_at, exit_reason, error_code, finished_at) ON app.automation_enrollments
  TO capto_service;
CREATE POLICY automation_enrollments_all_service ON app.automation_enrollments FOR ALL TO capto_service
  USING (true) WITH CHECK (true);

-- Pausing an automation holds its running enrollments at their step; activating it again
-- releases them (a wait that ended meanwhile runs at once). SECURITY DEFINER because only
-- the service writes enrollments, while an owner/admin's request changes the status —
-- both in her one transaction, so no enrollment runs a step of a paused automation.
CREATE FUNCTION app.automations_hold_enrollments() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.status = 'paused' AND OLD.status = 'active' THEN
    UPDATE app.automation_enrollments SET state = 'paused'
     WHERE business_id = NEW.business_id AND automation_id = NEW.id AND state = 'active';
  ELSIF NEW.status = 'active' AND OLD.status = 'paused' THEN
    UPDATE app.automation_enrollments SET state = 'active'
     WHERE business_id = NEW.business_id AND automation_id = NEW.id AND state = 'paused';
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.automations_hold_enrollments() FROM PUBLIC;
CREATE TRIGGER automations_hold_enrollments AFTER UPDATE OF status ON app.automations
  FOR EACH ROW EXECUTE FUNCTION app.automations_hold_enrollments();

-- ---------------------------------------------------------------------------
-- app.automation_enrollment_events: what happened to an enrollment, for the contact's
-- timeline and the automation's page. Append-only.
-- ---------------------------------------------------------------------------
CREATE TABLE app.automation_enrollment_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  enrollment_id uuid NOT NULL,
  contact_id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN ('enrolled', 'step_done', 'step_skipped', 'completed', 'exited', 'failed')),
  step_index integer CHECK (step_index BETWEEN 0 AND 1000),
  step_type text CHECK (step_type ~ '^[a-z_]{1,40}$'),
  details jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object' AND pg_column_size(details) <= 2048),
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (business_id, enrollment_id) REFERENCES app.automation_enrollments (business_id, id) ON DELETE CASCADE,
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE
);
CREATE INDEX automation_enrollment_events_enrollment_idx ON app.automation_enrollment_events
  (business_id, enrollment_id, created_at);
CREATE INDEX automation_enrollment_events_contact_idx ON app.automation_enrollment_events
  (business_id, contact_id, created_at);
ALTER TABLE app.automation_enrollment_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.automation_enrollment_events FORCE ROW LEVEL SECURITY;
GRANT SELECT ON app.automation_enrollment_events TO capto_authenticated;
CREATE POLICY automation_enrollment_events_select_member ON app.automation_enrollment_events
  FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
GRANT SELECT, INSERT ON app.automation_enrollment_events TO capto_service;
CREATE POLICY automation_enrollment_events_all_service ON app.automation_enrollment_events FOR ALL TO capto_service
  USING (true) WITH CHECK (true);
