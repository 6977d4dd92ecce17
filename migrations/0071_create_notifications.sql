-- Reminders and notifications (docs/ARCHITECTURE.md §12.1).
--
-- Tasks get a due time and an optional reminder time. Notifications are rows per
-- (business, user): the recipient must be a member of that business (composite foreign
-- key to memberships, ON DELETE CASCADE), so a notification about business A can never
-- reach anyone outside A, and leaving A takes its notifications with it. A user reads
-- and marks read only her own rows, and only of businesses she is still a member of.
--
-- Nobody inserts a notification from a request: the database writes them itself, in
-- the transaction of the event (triggers below), or the service role does (task-due
-- reminders, the demo seeder). So a member cannot spam a colleague's bell, and no
-- writer can forget to notify.

-- ---------------------------------------------------------------------------
-- tasks: due time and reminder
-- ---------------------------------------------------------------------------
ALTER TABLE app.tasks
  ADD COLUMN due_at timestamptz,
  ADD COLUMN remind_at timestamptz,
  -- When the "task due" notification went out (NULL: not yet). Reset when due_at or
  -- remind_at changes, so a rescheduled task reminds again.
  ADD COLUMN reminded_at timestamptz;
GRANT UPDATE (due_at, remind_at) ON app.tasks TO capto_authenticated;
-- "My tasks due today / overdue" on the dashboard.
CREATE INDEX tasks_assignee_due_at_idx ON app.tasks (business_id, assignee_id, due_at) WHERE NOT done;
-- The reminder job's scan, across businesses (service role): open, not yet reminded.
CREATE INDEX tasks_reminder_pending_idx ON app.tasks ((coalesce(remind_at, due_at)))
  WHERE NOT done AND reminded_at IS NULL AND coalesce(remind_at, due_at) IS NOT NULL;

CREATE FUNCTION app.tasks_reset_reminder() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.due_at IS DISTINCT FROM OLD.due_at OR NEW.remind_at IS DISTINCT FROM OLD.remind_at THEN
    NEW.reminded_at := NULL;
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.tasks_reset_reminder() FROM PUBLIC;
CREATE TRIGGER tasks_reset_reminder BEFORE UPDATE OF due_at, remind_at ON app.tasks
  FOR EACH ROW EXECUTE FUNCTION app.tasks_reset_reminder();

-- ---------------------------------------------------------------------------
-- notifications
-- ---------------------------------------------------------------------------
CREATE TABLE app.notifications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN ('inbound_text', 'task_due', 'assignment', 'import_finished', 'invitation_accepted')),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  body text NOT NULL DEFAULT '' CHECK (length(body) <= 500),
  -- An in-app path only (never an absolute URL): the bell navigates within the app.
  link text CHECK (length(link) <= 300 AND link ~ '^/[A-Za-z0-9/_?=&.%-]*$'),
  subject_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  read_at timestamptz,
  -- Set when a daily digest included it (or when the user does not want it by mail).
  emailed_at timestamptz,
  UNIQUE (business_id, id),
  FOREIGN KEY (business_id, user_id) REFERENCES app.memberships (business_id, user_id) ON DELETE CASCADE
);
ALTER TABLE app.notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.notifications FORCE ROW LEVEL SECURITY;
CREATE INDEX notifications_user_recent_idx ON app.notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_user_unread_idx ON app.notifications (user_id, business_id) WHERE read_at IS NULL;
CREATE INDEX notifications_business_idx ON app.notifications (business_id, user_id);
CREATE INDEX notifications_digest_idx ON app.notifications (user_id, created_at) WHERE emailed_at IS NULL;

GRANT SELECT ON app.notifications TO capto_authenticated;
GRANT UPDATE (read_at) ON app.notifications TO capto_authenticated;
CREATE POLICY notifications_select_own ON app.notifications FOR SELECT TO capto_authenticated
  USING (user_id = (select app.uid()) AND business_id IN (SELECT app.member_business_ids()));
CREATE POLICY notifications_update_own ON app.notifications FOR UPDATE TO capto_authenticated
  USING (user_id = (select app.uid()) AND business_id IN (SELECT app.member_business_ids()))
  WITH CHECK (user_id = (select app.uid()) AND business_id IN (SELECT app.member_business_ids()));
-- The service role: task-due reminders and demo seeding insert; the digest reads and
-- stamps emailed_at; the retention sweep deletes rows older than 90 days only.
GRANT SELECT, INSERT, DELETE ON app.notifications TO capto_service;
GRANT UPDATE (emailed_at) ON app.notifications TO capto_service;
CREATE POLICY notifications_select_service ON app.notifications FOR SELECT TO capto_service USING (true);
CREATE POLICY notifications_insert_service ON app.notifications FOR INSERT TO capto_service WITH CHECK (true);
CREATE POLICY notifications_update_service ON app.notifications FOR UPDATE TO capto_service USING (true) WITH CHECK (true);
CREATE POLICY notifications_delete_service_old ON app.notifications FOR DELETE TO capto_service
  USING (created_at < now() - interval '90 days');

-- ---------------------------------------------------------------------------
-- notification_settings: per user (not per business) — the digest is one mail
-- ---------------------------------------------------------------------------
CREATE TABLE app.notification_settings (
  user_id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  -- IANA-shaped; the service also checks PostgreSQL knows it (app.is_time_zone).
  time_zone text NOT NULL DEFAULT 'America/New_York'
    CHECK (length(time_zone) <= 64 AND time_zone ~ '^[A-Za-z][A-Za-z0-9_]*(/[A-Za-z0-9_+-]+){0,2}$'),
  digest_hour smallint NOT NULL DEFAULT 8 CHECK (digest_hour BETWEEN 0 AND 23),
  -- The kinds that also arrive by email, in the daily digest. Empty: no digest.
  email_kinds text[] NOT NULL DEFAULT '{}' CHECK (
    email_kinds <@ ARRAY['inbound_text', 'task_due', 'assignment', 'import_finished', 'invitation_accepted']::text[]
  ),
  -- The local date of the last digest sent, so a restart within the hour sends no second one.
  last_digest_on date,
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE app.notification_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.notification_settings FORCE ROW LEVEL SECURITY;
CREATE TRIGGER notification_settings_touch_updated_at BEFORE UPDATE ON app.notification_settings
  FOR EACH ROW EXECUTE FUNCTION app.crm_touch_updated_at();

GRANT SELECT, INSERT ON app.notification_settings TO capto_authenticated;
GRANT UPDATE (time_zone, digest_hour, email_kinds) ON app.notification_settings TO capto_authenticated;
CREATE POLICY notification_settings_select_own ON app.notification_settings FOR SELECT TO capto_authenticated
  USING (user_id = (select app.uid()));
CREATE POLICY notification_settings_insert_own ON app.notification_settings FOR INSERT TO capto_authenticated
  WITH CHECK (user_id = (select app.uid()));
CREATE POLICY notification_settings_update_own ON app.notification_settings FOR UPDATE TO capto_authenticated
  USING (user_id = (select app.uid())) WITH CHECK (user_id = (select app.uid()));
GRANT SELECT ON app.notification_settings TO capto_service;
GRANT UPDATE (last_digest_on) ON app.notification_settings TO capto_service;
CREATE POLICY notification_settings_select_service ON app.notification_settings FOR SELECT TO capto_service
  USING (true);
CREATE POLICY notification_settings_update_service ON app.notification_settings FOR UPDATE TO capto_service
  USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- The database notifies. Each function is a trigger (SECURITY DEFINER, empty search
-- path): it inserts only for members of the row's own business (the INSERT … SELECT
-- joins memberships, so a recipient who left simply gets nothing instead of failing
-- the event's own write), and never notifies the actor about her own action.
-- ---------------------------------------------------------------------------
CREATE FUNCTION app.notify(
  p_business uuid, p_user uuid, p_kind text, p_title text, p_body text, p_link text, p_subject uuid
) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
  INSERT INTO app.notifications (business_id, user_id, kind, title, body, link, subject_id)
  SELECT m.business_id, m.user_id, p_kind, pg_catalog.left(p_title, 200), pg_catalog.left(coalesce(p_body, ''), 500),
         p_link, p_subject
    FROM app.memberships m
   WHERE m.business_id = p_business AND m.user_id = p_user;
$$;
-- Only the trigger functions below (owned by the same owner) call it.
REVOKE ALL ON FUNCTION app.notify(uuid, uuid, text, text, text, text, uuid) FROM PUBLIC;

CREATE FUNCTION app.contact_display_name(p_business uuid, p_contact uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT coalesce(nullif(pg_catalog.btrim(c.first_name || ' ' || c.last_name), ''), c.email, c.phone, 'a contact')
    FROM app.contacts c WHERE c.business_id = p_business AND c.id = p_contact;
$$;
REVOKE ALL ON FUNCTION app.contact_display_name(uuid, uuid) FROM PUBLIC;

-- A task assigned to someone other than the person assigning it.
CREATE FUNCTION app.notify_task_assigned() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  actor uuid := app.uid();
BEGIN
  IF NEW.assignee_id IS NULL OR actor IS NULL OR NEW.assignee_id = actor THEN RETURN NULL; END IF;
  IF TG_OP = 'UPDATE' AND NEW.assignee_id IS NOT DISTINCT FROM OLD.assignee_id THEN RETURN NULL; END IF;
  PERFORM app.notify(NEW.business_id, NEW.assignee_id, 'assignment', 'Task assigned to you: ' || NEW.title,
    CASE WHEN NEW.contact_id IS NOT NULL THEN 'About ' || app.contact_display_name(NEW.business_id, NEW.contact_id) ELSE '' END,
    CASE WHEN NEW.contact_id IS NOT NULL THEN '/b/' || NEW.business_id || '/contacts/' || NEW.contact_id
         ELSE '/b/' || NEW.business_id END,
    NEW.id);
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.notify_task_assigned() FROM PUBLIC;
CREATE TRIGGER tasks_notify_assigned AFTER INSERT OR UPDATE OF assignee_id ON app.tasks
  FOR EACH ROW EXECUTE FUNCTION app.notify_task_assigned();

-- A contact or a deal given to another member (an import's own contacts are owned by
-- the importer, so the WHEN clause keeps imports free of this trigger).
CREATE FUNCTION app.notify_owner_assigned() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.owner_id IS NOT DISTINCT FROM OLD.owner_id THEN RETURN NULL; END IF;
  IF TG_TABLE_NAME = 'contacts' THEN
    PERFORM app.notify(NEW.business_id, NEW.owner_id, 'assignment',
      'Contact assigned to you: ' || app.contact_display_name(NEW.business_id, NEW.id), '',
      '/b/' || NEW.business_id || '/contacts/' || NEW.id, NEW.id);
  ELSE
    PERFORM app.notify(NEW.business_id, NEW.owner_id, 'assignment', 'Deal assigned to you: ' || NEW.title, '',
      '/b/' || NEW.business_id || '/deals/' || NEW.id, NEW.id);
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.notify_owner_assigned() FROM PUBLIC;
CREATE TRIGGER contacts_notify_owner AFTER INSERT OR UPDATE OF owner_id ON app.contacts
  FOR EACH ROW WHEN (NEW.owner_id IS NOT NULL AND NEW.owner_id IS DISTINCT FROM app.uid() AND app.uid() IS NOT NULL)
  EXECUTE FUNCTION app.notify_owner_assigned();
CREATE TRIGGER deals_notify_owner AFTER INSERT OR UPDATE OF owner_id ON app.deals
  FOR EACH ROW WHEN (NEW.owner_id IS NOT NULL AND NEW.owner_id IS DISTINCT FROM app.uid() AND app.uid() IS NOT NULL)
  EXECUTE FUNCTION app.notify_owner_assigned();

-- A new inbound text: to the contact's owner, or to every member when nobody owns it.
CREATE FUNCTION app.notify_inbound_text() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  conv record;
  recipient uuid;
BEGIN
  SELECT cv.id, cv.contact_id, c.owner_id INTO conv
    FROM app.conversations cv JOIN app.contacts c ON c.business_id = cv.business_id AND c.id = cv.contact_id
   WHERE cv.business_id = NEW.business_id AND cv.id = NEW.conversation_id;
  IF NOT FOUND THEN RETURN NULL; END IF;
  FOR recipient IN
    SELECT m.user_id FROM app.memberships m
     WHERE m.business_id = NEW.business_id AND (conv.owner_id IS NULL OR m.user_id = conv.owner_id)
  LOOP
    PERFORM app.notify(NEW.business_id, recipient, 'inbound_text',
      'New text from ' || app.contact_display_name(NEW.business_id, conv.contact_id),
      pg_catalog.left(NEW.body, 140), '/b/' || NEW.business_id || '/inbox/' || conv.id, NEW.id);
  END LOOP;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.notify_inbound_text() FROM PUBLIC;
CREATE TRIGGER messages_notify_inbound AFTER INSERT ON app.messages
  FOR EACH ROW WHEN (NEW.direction = 'inbound') EXECUTE FUNCTION app.notify_inbound_text();

-- An import finished (completed or failed): to the person who ran it.
CREATE FUNCTION app.notify_import_finished() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.created_by IS NULL THEN RETURN NULL; END IF;
  PERFORM app.notify(NEW.business_id, NEW.created_by, 'import_finished',
    CASE WHEN NEW.status = 'completed' THEN 'Import finished: ' ELSE 'Import failed: ' END || NEW.filename,
    NEW.created_count || ' created, ' || NEW.updated_count || ' updated, ' || NEW.skipped_count || ' skipped, '
      || NEW.failed_count || ' failed',
    '/b/' || NEW.business_id || '/contacts?import_job_id=' || NEW.id, NEW.id);
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.notify_import_finished() FROM PUBLIC;
CREATE TRIGGER import_jobs_notify_finished AFTER UPDATE OF status ON app.import_jobs
  FOR EACH ROW WHEN (NEW.status IN ('completed', 'failed') AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION app.notify_import_finished();

-- An invitation accepted: to the person who sent it.
CREATE FUNCTION app.notify_invitation_accepted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.invited_by IS NULL THEN RETURN NULL; END IF;
  PERFORM app.notify(NEW.business_id, NEW.invited_by, 'invitation_accepted',
    NEW.email::text || ' accepted your invitation', 'They joined as ' || NEW.role::text || '.',
    '/b/' || NEW.business_id || '/settings/team', NEW.id);
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.notify_invitation_accepted() FROM PUBLIC;
CREATE TRIGGER invitations_notify_accepted AFTER UPDATE OF accepted_at ON app.invitations
  FOR EACH ROW WHEN (OLD.accepted_at IS NULL AND NEW.accepted_at IS NOT NULL)
  EXECUTE FUNCTION app.notify_invitation_accepted();
