-- SMS and email templates with merge fields (docs/ARCHITECTURE.md "Templates").
-- Any member reads the business's templates and creates her own; the author, and the
-- business's owners and admins, change or delete one. The channel is fixed at creation
-- (no UPDATE grant on it). Merge fields are checked by the application at save time;
-- the database bounds sizes and ties subject to channel.
CREATE TABLE app.message_templates (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  channel text NOT NULL CHECK (channel IN ('sms', 'email')),
  subject text CHECK (length(btrim(subject)) BETWEEN 1 AND 500),
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 50000),
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id),
  CHECK ((channel = 'email') = (subject IS NOT NULL)),
  CHECK (channel = 'email' OR length(body) <= 1600)
);
CREATE INDEX message_templates_business_idx ON app.message_templates (business_id, created_at);
CREATE INDEX message_templates_created_by_idx ON app.message_templates (created_by);
ALTER TABLE app.message_templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.message_templates FORCE ROW LEVEL SECURITY;
CREATE TRIGGER message_templates_touch_updated_at BEFORE UPDATE ON app.message_templates
  FOR EACH ROW EXECUTE FUNCTION app.crm_touch_updated_at();

GRANT SELECT, DELETE ON app.message_templates TO capto_authenticated;
GRANT INSERT (id, business_id, name, channel, subject, body, created_by) ON app.message_templates TO capto_authenticated;
GRANT UPDATE (name, subject, body) ON app.message_templates TO capto_authenticated;
CREATE POLICY message_templates_select_member ON app.message_templates FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
CREATE POLICY message_templates_insert_member ON app.message_templates FOR INSERT TO capto_authenticated
  WITH CHECK (business_id = ANY (array(select app.member_business_ids())) AND created_by = (select app.uid()));
CREATE POLICY message_templates_update_author_or_admin ON app.message_templates FOR UPDATE TO capto_authenticated
  USING (
    business_id = ANY (array(select app.member_business_ids()))
    AND (created_by = (select app.uid()) OR business_id = ANY (array(select app.business_ids_with_role('admin'))))
  )
  WITH CHECK (business_id = ANY (array(select app.member_business_ids())));
CREATE POLICY message_templates_delete_author_or_admin ON app.message_templates FOR DELETE TO capto_authenticated
  USING (
    business_id = ANY (array(select app.member_business_ids()))
    AND (created_by = (select app.uid()) OR business_id = ANY (array(select app.business_ids_with_role('admin'))))
  );
-- Delivery renders campaign messages as the service.
GRANT SELECT ON app.message_templates TO capto_service;
CREATE POLICY message_templates_select_service ON app.message_templates FOR SELECT TO capto_service USING (true);
