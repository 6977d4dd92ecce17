-- CRM (issue 7): contacts, SMS opt-outs, lists, deals and their stage history,
-- conversations and messages, notes, tasks, and the contact timeline events.
--
-- Every table is a tenant table: business_id NOT NULL, RLS ENABLED + FORCED, policies
-- through the helpers of 0001, an index led by business_id, and explicit grants per
-- role. UPDATE is granted per column so a request can never move a row to another
-- business. Foreign keys between tenant tables are composite — (business_id, x_id) →
-- parent(business_id, id) — so no row can point at another business's row, whatever
-- the application code does. capto_service (demo seeding, webhooks, the purge timer)
-- gets its own `TO capto_service` policies; it is not BYPASSRLS.
--
-- Policies here say `business_id IN (SELECT app.member_business_ids())`, not the
-- `= ANY (array(select …))` of 0001: with the array form the planner multiplies the
-- query's own `business_id = $1` selectivity by a guessed 10-element array, expects a
-- handful of rows, and picks bitmap-scan-and-sort of the whole business over the
-- ordered (business_id, created_at, id) index walk that a LIMIT page needs (measured:
-- list-50 at 500 contacts/business 6.4 ms vs 1.4 ms bypass). The sub-select becomes a
-- hashed SubPlan computed once per statement, the index keeps serving `business_id =
-- $1` and ORDER BY … LIMIT (1.7 ms vs 1.6 ms). CRM queries always name the business.

CREATE TYPE app.contact_source AS ENUM ('web', 'referral', 'zillow', 'sms', 'import', 'manual', 'other');
CREATE TYPE app.contact_status AS ENUM (
  'lead', 'prospect', 'application', 'client', 'past_client', 'referral_partner', 'do_not_contact'
);
CREATE TYPE app.loan_type AS ENUM ('conventional', 'fha', 'va', 'usda', 'jumbo', 'refinance', 'heloc', 'other');
CREATE TYPE app.deal_stage AS ENUM (
  'lead', 'application', 'processing', 'underwriting', 'clear_to_close', 'funded', 'lost'
);

-- updated_at is the server's clock, never the client's.
CREATE FUNCTION app.crm_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  NEW.updated_at := pg_catalog.now();
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.crm_touch_updated_at() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- contacts
-- ---------------------------------------------------------------------------
CREATE TABLE app.contacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  first_name text NOT NULL DEFAULT '' CHECK (length(first_name) <= 100),
  last_name text NOT NULL DEFAULT '' CHECK (length(last_name) <= 100),
  -- E.164, normalised by the application (libphonenumber-js); the CHECK is the backstop.
  phone text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
  email extensions.citext CHECK (
    length(email::text) BETWEEN 3 AND 254 AND email::text = lower(email::text) AND position('@' IN email::text) > 1
  ),
  source app.contact_source NOT NULL DEFAULT 'manual',
  status app.contact_status NOT NULL DEFAULT 'lead',
  notes text NOT NULL DEFAULT '' CHECK (length(notes) <= 10000),
  owner_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- Soft delete: restorable for 30 days, then purged by app.purge_deleted_contacts' caller.
  deleted_at timestamptz,
  UNIQUE (business_id, id),
  -- The owner must be a member of THIS business; when she leaves, the contact stays, unowned.
  FOREIGN KEY (business_id, owner_id) REFERENCES app.memberships (business_id, user_id) ON DELETE SET NULL (owner_id),
  CHECK (first_name <> '' OR last_name <> '' OR phone IS NOT NULL OR email IS NOT NULL)
);
ALTER TABLE app.contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.contacts FORCE ROW LEVEL SECURITY;
CREATE TRIGGER contacts_touch_updated_at BEFORE UPDATE ON app.contacts
  FOR EACH ROW EXECUTE FUNCTION app.crm_touch_updated_at();

-- Duplicates (same email or same phone among live contacts of a business) are refused
-- by the database, so two concurrent creates cannot both win the application's check.
CREATE UNIQUE INDEX contacts_live_email_key ON app.contacts (business_id, email)
  WHERE deleted_at IS NULL AND email IS NOT NULL;
CREATE UNIQUE INDEX contacts_live_phone_key ON app.contacts (business_id, phone)
  WHERE deleted_at IS NULL AND phone IS NOT NULL;
-- Keyset paging and sorting (every index led by business_id, the policy column).
CREATE INDEX contacts_business_created_idx ON app.contacts (business_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_business_updated_idx ON app.contacts (business_id, updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_business_name_idx ON app.contacts (business_id, lower(last_name), lower(first_name), id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_business_status_idx ON app.contacts (business_id, status, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_business_owner_idx ON app.contacts (business_id, owner_id);
CREATE INDEX contacts_business_deleted_idx ON app.contacts (business_id, deleted_at) WHERE deleted_at IS NOT NULL;
-- Search (trigram): names, email, and the phone's digits (so "555 123" finds +1555123…).
CREATE INDEX contacts_name_trgm_idx ON app.contacts
  USING gin ((lower(first_name || ' ' || last_name)) extensions.gin_trgm_ops);
CREATE INDEX contacts_email_trgm_idx ON app.contacts USING gin ((email::text) extensions.gin_trgm_ops);
CREATE INDEX contacts_phone_trgm_idx ON app.contacts
  USING gin ((regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g')) extensions.gin_trgm_ops);

GRANT SELECT, INSERT ON app.contacts TO capto_authenticated;
GRANT UPDATE (first_name, last_name, phone, email, source, status, notes, owner_id, deleted_at)
  ON app.contacts TO capto_authenticated;
CREATE POLICY contacts_select_member ON app.contacts FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY contacts_insert_member ON app.contacts FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY contacts_update_member ON app.contacts FOR UPDATE TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()))
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
-- Permanent deletion before the 30 days are up (the trash's "delete forever") is for
-- admins and owners, and only of contacts already in the trash.
GRANT DELETE ON app.contacts TO capto_authenticated;
CREATE POLICY contacts_delete_admin ON app.contacts FOR DELETE TO capto_authenticated
  USING (deleted_at IS NOT NULL AND business_id IN (SELECT app.business_ids_with_role('admin')));
GRANT SELECT, INSERT, UPDATE, DELETE ON app.contacts TO capto_service;
CREATE POLICY contacts_select_service ON app.contacts FOR SELECT TO capto_service USING (true);
CREATE POLICY contacts_insert_service ON app.contacts FOR INSERT TO capto_service WITH CHECK (true);
CREATE POLICY contacts_update_service ON app.contacts FOR UPDATE TO capto_service USING (true) WITH CHECK (true);
-- The purge timer may only remove what has been in the trash for 30 days.
CREATE POLICY contacts_delete_service_purge ON app.contacts FOR DELETE TO capto_service
  USING (deleted_at < now() - interval '30 days');

-- ---------------------------------------------------------------------------
-- sms_opt_outs (written by messaging on STOP; read on the contact page)
-- ---------------------------------------------------------------------------
CREATE TABLE app.sms_opt_outs (
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL,
  our_number text NOT NULL CHECK (our_number ~ '^\+[1-9][0-9]{6,14}$'),
  keyword text NOT NULL DEFAULT 'STOP' CHECK (length(keyword) BETWEEN 1 AND 40),
  opted_out_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, contact_id, our_number),
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE
);
ALTER TABLE app.sms_opt_outs ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.sms_opt_outs FORCE ROW LEVEL SECURITY;

-- Members read opt-outs; only the service (the inbound webhook) records or lifts them:
-- a user must not be able to "un-STOP" a recipient who asked not to be texted.
GRANT SELECT ON app.sms_opt_outs TO capto_authenticated;
CREATE POLICY sms_opt_outs_select_member ON app.sms_opt_outs FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
GRANT SELECT, INSERT, UPDATE, DELETE ON app.sms_opt_outs TO capto_service;
CREATE POLICY sms_opt_outs_all_service ON app.sms_opt_outs FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- lists and list_members
-- ---------------------------------------------------------------------------
CREATE TABLE app.lists (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
  color text NOT NULL DEFAULT '#64748b' CHECK (color ~ '^#[0-9a-f]{6}$'),
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id)
);
ALTER TABLE app.lists ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.lists FORCE ROW LEVEL SECURITY;
CREATE UNIQUE INDEX lists_business_name_key ON app.lists (business_id, lower(name));
CREATE INDEX lists_created_by_idx ON app.lists (created_by);
CREATE TRIGGER lists_touch_updated_at BEFORE UPDATE ON app.lists
  FOR EACH ROW EXECUTE FUNCTION app.crm_touch_updated_at();

GRANT SELECT, INSERT, DELETE ON app.lists TO capto_authenticated;
GRANT UPDATE (name, color) ON app.lists TO capto_authenticated;
CREATE POLICY lists_select_member ON app.lists FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY lists_insert_member ON app.lists FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY lists_update_member ON app.lists FOR UPDATE TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()))
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY lists_delete_member ON app.lists FOR DELETE TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
GRANT SELECT, INSERT, UPDATE ON app.lists TO capto_service;
CREATE POLICY lists_select_service ON app.lists FOR SELECT TO capto_service USING (true);
CREATE POLICY lists_insert_service ON app.lists FOR INSERT TO capto_service WITH CHECK (true);
CREATE POLICY lists_update_service ON app.lists FOR UPDATE TO capto_service USING (true) WITH CHECK (true);

CREATE TABLE app.list_members (
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  list_id uuid NOT NULL,
  contact_id uuid NOT NULL,
  added_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, list_id, contact_id),
  FOREIGN KEY (business_id, list_id) REFERENCES app.lists (business_id, id) ON DELETE CASCADE,
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE
);
ALTER TABLE app.list_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.list_members FORCE ROW LEVEL SECURITY;
-- "A contact's lists" and the list filter on contacts.
CREATE INDEX list_members_contact_idx ON app.list_members (business_id, contact_id, list_id);
CREATE INDEX list_members_added_by_idx ON app.list_members (added_by);

GRANT SELECT, INSERT, DELETE ON app.list_members TO capto_authenticated;
CREATE POLICY list_members_select_member ON app.list_members FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY list_members_insert_member ON app.list_members FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY list_members_delete_member ON app.list_members FOR DELETE TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
GRANT SELECT, INSERT, UPDATE ON app.list_members TO capto_service;
CREATE POLICY list_members_select_service ON app.list_members FOR SELECT TO capto_service USING (true);
CREATE POLICY list_members_insert_service ON app.list_members FOR INSERT TO capto_service WITH CHECK (true);
CREATE POLICY list_members_update_service ON app.list_members FOR UPDATE TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- deals and deal_stage_changes
-- ---------------------------------------------------------------------------
CREATE TABLE app.deals (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
  contact_id uuid,
  amount_cents bigint NOT NULL DEFAULT 0 CHECK (amount_cents BETWEEN 0 AND 100000000000000),
  loan_type app.loan_type NOT NULL DEFAULT 'conventional',
  stage app.deal_stage NOT NULL DEFAULT 'lead',
  expected_close_date date,
  -- Order within the stage's kanban column (0 = top); kept dense by the service.
  position integer NOT NULL DEFAULT 0 CHECK (position >= 0),
  owner_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id),
  -- A purged contact leaves its deals (the pipeline's history) without a contact.
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE SET NULL (contact_id),
  FOREIGN KEY (business_id, owner_id) REFERENCES app.memberships (business_id, user_id) ON DELETE SET NULL (owner_id)
);
ALTER TABLE app.deals ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.deals FORCE ROW LEVEL SECURITY;
CREATE INDEX deals_business_stage_idx ON app.deals (business_id, stage, position, id);
CREATE INDEX deals_business_created_idx ON app.deals (business_id, created_at, id);
CREATE INDEX deals_business_contact_idx ON app.deals (business_id, contact_id);
CREATE INDEX deals_business_owner_idx ON app.deals (business_id, owner_id);
CREATE INDEX deals_title_trgm_idx ON app.deals USING gin ((lower(title)) extensions.gin_trgm_ops);
CREATE TRIGGER deals_touch_updated_at BEFORE UPDATE ON app.deals
  FOR EACH ROW EXECUTE FUNCTION app.crm_touch_updated_at();

GRANT SELECT, INSERT, DELETE ON app.deals TO capto_authenticated;
GRANT UPDATE (title, contact_id, amount_cents, loan_type, stage, expected_close_date, position, owner_id)
  ON app.deals TO capto_authenticated;
CREATE POLICY deals_select_member ON app.deals FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY deals_insert_member ON app.deals FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY deals_update_member ON app.deals FOR UPDATE TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()))
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY deals_delete_member ON app.deals FOR DELETE TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
GRANT SELECT, INSERT, UPDATE ON app.deals TO capto_service;
CREATE POLICY deals_select_service ON app.deals FOR SELECT TO capto_service USING (true);
CREATE POLICY deals_insert_service ON app.deals FOR INSERT TO capto_service WITH CHECK (true);
CREATE POLICY deals_update_service ON app.deals FOR UPDATE TO capto_service USING (true) WITH CHECK (true);

-- Stage history is append-only for requests: no UPDATE or DELETE grant.
CREATE TABLE app.deal_stage_changes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  deal_id uuid NOT NULL,
  from_stage app.deal_stage,
  to_stage app.deal_stage NOT NULL,
  changed_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  changed_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (business_id, deal_id) REFERENCES app.deals (business_id, id) ON DELETE CASCADE
);
ALTER TABLE app.deal_stage_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.deal_stage_changes FORCE ROW LEVEL SECURITY;
CREATE INDEX deal_stage_changes_deal_idx ON app.deal_stage_changes (business_id, deal_id, changed_at, id);
CREATE INDEX deal_stage_changes_changed_by_idx ON app.deal_stage_changes (changed_by);

GRANT SELECT, INSERT ON app.deal_stage_changes TO capto_authenticated;
CREATE POLICY deal_stage_changes_select_member ON app.deal_stage_changes FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY deal_stage_changes_insert_member ON app.deal_stage_changes FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()) AND changed_by = (select app.uid()));
GRANT SELECT, INSERT ON app.deal_stage_changes TO capto_service;
CREATE POLICY deal_stage_changes_select_service ON app.deal_stage_changes FOR SELECT TO capto_service USING (true);
CREATE POLICY deal_stage_changes_insert_service ON app.deal_stage_changes FOR INSERT TO capto_service WITH CHECK (true);

-- Every stage a deal enters is recorded by the database itself, whoever writes the
-- deal (a request, the demo seeder, a future import), so the history cannot be skipped.
-- SECURITY INVOKER: the insert passes the caller's own policies above.
CREATE FUNCTION app.record_deal_stage_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.stage IS DISTINCT FROM OLD.stage THEN
    INSERT INTO app.deal_stage_changes (business_id, deal_id, from_stage, to_stage, changed_by)
    VALUES (NEW.business_id, NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.stage END, NEW.stage, app.uid());
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.record_deal_stage_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.record_deal_stage_change() TO capto_authenticated, capto_service;
CREATE TRIGGER deals_record_stage_change AFTER INSERT OR UPDATE OF stage ON app.deals
  FOR EACH ROW EXECUTE FUNCTION app.record_deal_stage_change();

-- ---------------------------------------------------------------------------
-- conversations and messages (columns fixed in PLAN.md: messaging relies on them)
-- ---------------------------------------------------------------------------
CREATE TABLE app.conversations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL,
  our_number text NOT NULL CHECK (our_number ~ '^\+[1-9][0-9]{6,14}$'),
  -- The Twilio configuration it runs through; the FK is added by 0005 (integrations).
  twilio_config_id uuid,
  last_message_at timestamptz,
  unread_count integer NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id),
  UNIQUE (business_id, contact_id, our_number),
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE
);
ALTER TABLE app.conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.conversations FORCE ROW LEVEL SECURITY;
CREATE INDEX conversations_business_recent_idx ON app.conversations (business_id, last_message_at, id);
CREATE INDEX conversations_twilio_config_idx ON app.conversations (business_id, twilio_config_id);

-- Requests read conversations, may open one (first outbound text), and mark them read.
GRANT SELECT, INSERT ON app.conversations TO capto_authenticated;
GRANT UPDATE (unread_count) ON app.conversations TO capto_authenticated;
CREATE POLICY conversations_select_member ON app.conversations FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY conversations_insert_member ON app.conversations FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY conversations_update_member ON app.conversations FOR UPDATE TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()))
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
GRANT SELECT, INSERT, UPDATE ON app.conversations TO capto_service;
CREATE POLICY conversations_select_service ON app.conversations FOR SELECT TO capto_service USING (true);
CREATE POLICY conversations_insert_service ON app.conversations FOR INSERT TO capto_service WITH CHECK (true);
CREATE POLICY conversations_update_service ON app.conversations FOR UPDATE TO capto_service USING (true) WITH CHECK (true);

CREATE TABLE app.messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  conversation_id uuid NOT NULL,
  direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  body text NOT NULL CHECK (length(body) <= 1600),
  status text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'received')),
  twilio_sid text CHECK (twilio_sid ~ '^[A-Za-z0-9]{2,64}$'),
  sender_user_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  error_code text CHECK (length(error_code) <= 40),
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  delivered_at timestamptz,
  read_at timestamptz,
  UNIQUE (business_id, id),
  UNIQUE (business_id, twilio_sid),
  FOREIGN KEY (business_id, conversation_id) REFERENCES app.conversations (business_id, id) ON DELETE CASCADE
);
ALTER TABLE app.messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.messages FORCE ROW LEVEL SECURITY;
CREATE INDEX messages_conversation_idx ON app.messages (business_id, conversation_id, created_at, id);
CREATE INDEX messages_unread_idx ON app.messages (business_id, conversation_id) WHERE read_at IS NULL AND direction = 'inbound';
CREATE INDEX messages_sender_idx ON app.messages (sender_user_id);
CREATE INDEX messages_body_trgm_idx ON app.messages USING gin ((lower(body)) extensions.gin_trgm_ops);

-- A request may queue an outbound message in its own name only; inbound messages and
-- delivery statuses come from Twilio through the service role (webhooks).
GRANT SELECT, INSERT ON app.messages TO capto_authenticated;
GRANT UPDATE (read_at) ON app.messages TO capto_authenticated;
CREATE POLICY messages_select_member ON app.messages FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY messages_insert_member_outbound ON app.messages FOR INSERT TO capto_authenticated
  WITH CHECK (
    business_id IN (SELECT app.member_business_ids())
    AND direction = 'outbound' AND status = 'queued' AND sender_user_id = (select app.uid())
  );
CREATE POLICY messages_update_member ON app.messages FOR UPDATE TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()))
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
GRANT SELECT, INSERT, UPDATE ON app.messages TO capto_service;
CREATE POLICY messages_select_service ON app.messages FOR SELECT TO capto_service USING (true);
CREATE POLICY messages_insert_service ON app.messages FOR INSERT TO capto_service WITH CHECK (true);
CREATE POLICY messages_update_service ON app.messages FOR UPDATE TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- notes (on a contact or on a deal)
-- ---------------------------------------------------------------------------
CREATE TABLE app.notes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  contact_id uuid,
  deal_id uuid,
  body text NOT NULL CHECK (length(btrim(body)) BETWEEN 1 AND 10000),
  author_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id),
  CHECK (num_nonnulls(contact_id, deal_id) = 1),
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE,
  FOREIGN KEY (business_id, deal_id) REFERENCES app.deals (business_id, id) ON DELETE CASCADE
);
ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.notes FORCE ROW LEVEL SECURITY;
CREATE INDEX notes_contact_idx ON app.notes (business_id, contact_id, created_at, id);
CREATE INDEX notes_deal_idx ON app.notes (business_id, deal_id, created_at, id);
CREATE INDEX notes_author_idx ON app.notes (author_id);
CREATE TRIGGER notes_touch_updated_at BEFORE UPDATE ON app.notes
  FOR EACH ROW EXECUTE FUNCTION app.crm_touch_updated_at();

-- Members write notes in their own name; the author edits or deletes her note, and
-- admins may delete any note (moderation). Nobody else rewrites a colleague's words.
GRANT SELECT, INSERT, DELETE ON app.notes TO capto_authenticated;
GRANT UPDATE (body) ON app.notes TO capto_authenticated;
CREATE POLICY notes_select_member ON app.notes FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY notes_insert_member ON app.notes FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()) AND author_id = (select app.uid()));
CREATE POLICY notes_update_author ON app.notes FOR UPDATE TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()) AND author_id = (select app.uid()))
  WITH CHECK (business_id IN (SELECT app.member_business_ids()) AND author_id = (select app.uid()));
CREATE POLICY notes_delete_author_or_admin ON app.notes FOR DELETE TO capto_authenticated
  USING (
    business_id IN (SELECT app.member_business_ids())
    AND (author_id = (select app.uid()) OR business_id IN (SELECT app.business_ids_with_role('admin')))
  );
GRANT SELECT, INSERT, UPDATE ON app.notes TO capto_service;
CREATE POLICY notes_select_service ON app.notes FOR SELECT TO capto_service USING (true);
CREATE POLICY notes_insert_service ON app.notes FOR INSERT TO capto_service WITH CHECK (true);
CREATE POLICY notes_update_service ON app.notes FOR UPDATE TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- tasks
-- ---------------------------------------------------------------------------
CREATE TABLE app.tasks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
  details text NOT NULL DEFAULT '' CHECK (length(details) <= 5000),
  due_date date,
  assignee_id uuid,
  contact_id uuid,
  deal_id uuid,
  done boolean NOT NULL DEFAULT false,
  done_at timestamptz,
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id),
  CHECK (done = (done_at IS NOT NULL)),
  FOREIGN KEY (business_id, assignee_id) REFERENCES app.memberships (business_id, user_id) ON DELETE SET NULL (assignee_id),
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE,
  FOREIGN KEY (business_id, deal_id) REFERENCES app.deals (business_id, id) ON DELETE CASCADE
);
ALTER TABLE app.tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.tasks FORCE ROW LEVEL SECURITY;
-- "My open tasks", by due date.
CREATE INDEX tasks_assignee_open_idx ON app.tasks (business_id, assignee_id, done, due_date, id);
CREATE INDEX tasks_business_created_idx ON app.tasks (business_id, created_at, id);
CREATE INDEX tasks_contact_idx ON app.tasks (business_id, contact_id);
CREATE INDEX tasks_deal_idx ON app.tasks (business_id, deal_id);
CREATE INDEX tasks_created_by_idx ON app.tasks (created_by);
CREATE TRIGGER tasks_touch_updated_at BEFORE UPDATE ON app.tasks
  FOR EACH ROW EXECUTE FUNCTION app.crm_touch_updated_at();

GRANT SELECT, INSERT, DELETE ON app.tasks TO capto_authenticated;
GRANT UPDATE (title, details, due_date, assignee_id, contact_id, deal_id, done, done_at) ON app.tasks TO capto_authenticated;
CREATE POLICY tasks_select_member ON app.tasks FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY tasks_insert_member ON app.tasks FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY tasks_update_member ON app.tasks FOR UPDATE TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()))
  WITH CHECK (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY tasks_delete_member ON app.tasks FOR DELETE TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
GRANT SELECT, INSERT, UPDATE ON app.tasks TO capto_service;
CREATE POLICY tasks_select_service ON app.tasks FOR SELECT TO capto_service USING (true);
CREATE POLICY tasks_insert_service ON app.tasks FOR INSERT TO capto_service WITH CHECK (true);
CREATE POLICY tasks_update_service ON app.tasks FOR UPDATE TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- contact_events: the timeline's own entries (created, imported, list changes, …).
-- Notes, messages and deal stage changes are read from their own tables and merged
-- into the timeline at query time, so there is one source of truth for each.
-- Append-only for requests: no UPDATE or DELETE grant.
-- ---------------------------------------------------------------------------
CREATE TABLE app.contact_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN (
    'created', 'imported', 'updated', 'deleted', 'restored', 'list_added', 'list_removed',
    'status_changed', 'owner_changed', 'opted_out', 'opted_in'
  )),
  actor_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  details jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object' AND pg_column_size(details) <= 4096),
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE
);
ALTER TABLE app.contact_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.contact_events FORCE ROW LEVEL SECURITY;
CREATE INDEX contact_events_contact_idx ON app.contact_events (business_id, contact_id, created_at, id);
CREATE INDEX contact_events_actor_idx ON app.contact_events (actor_id);

GRANT SELECT, INSERT ON app.contact_events TO capto_authenticated;
CREATE POLICY contact_events_select_member ON app.contact_events FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY contact_events_insert_member ON app.contact_events FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()) AND actor_id = (select app.uid()));
GRANT SELECT, INSERT ON app.contact_events TO capto_service;
CREATE POLICY contact_events_select_service ON app.contact_events FOR SELECT TO capto_service USING (true);
CREATE POLICY contact_events_insert_service ON app.contact_events FOR INSERT TO capto_service WITH CHECK (true);
