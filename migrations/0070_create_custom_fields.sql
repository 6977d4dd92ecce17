-- Custom fields (docs/ARCHITECTURE.md §Custom fields): a business defines its own
-- typed fields for contacts and deals; the values live on the record itself as a JSONB
-- object `custom` ({key: value}), so they travel with the row through RLS, the trash,
-- export and every policy that already covers contacts and deals.
--
-- Definitions are read by every member and written by owners and admins only (P4: the
-- role is checked in the policies, not only in route code). Values are validated by the
-- service and, as a backstop, by a trigger against the definitions of the row's own
-- business: an unknown key, a value of the wrong type or an option that is not offered
-- is refused by the database whoever writes the row.

CREATE TABLE app.custom_fields (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  entity text NOT NULL CHECK (entity IN ('contact', 'deal')),
  -- The merge-field name: {{ contact.custom.<key> }}. Lower-case ASCII so it is a valid
  -- identifier in every template language and a stable JSON key.
  key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,39}$'),
  label text NOT NULL CHECK (length(btrim(label)) BETWEEN 1 AND 80),
  type text NOT NULL CHECK (type IN ('text', 'number', 'money', 'date', 'choice', 'checkbox')),
  -- The offered values of a 'choice' field (an array of strings); empty for other types.
  options jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (
    jsonb_typeof(options) = 'array' AND jsonb_array_length(options) <= 50 AND pg_column_size(options) <= 4096
  ),
  position integer NOT NULL DEFAULT 0 CHECK (position BETWEEN 0 AND 1000),
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id),
  UNIQUE (business_id, entity, key)
);
ALTER TABLE app.custom_fields ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.custom_fields FORCE ROW LEVEL SECURITY;
CREATE INDEX custom_fields_created_by_idx ON app.custom_fields (created_by);
CREATE TRIGGER custom_fields_touch_updated_at BEFORE UPDATE ON app.custom_fields
  FOR EACH ROW EXECUTE FUNCTION app.crm_touch_updated_at();

GRANT SELECT, INSERT, DELETE ON app.custom_fields TO capto_authenticated;
-- key, entity and type never change: stored values were validated against them.
GRANT UPDATE (label, options, position) ON app.custom_fields TO capto_authenticated;
CREATE POLICY custom_fields_select_member ON app.custom_fields FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY custom_fields_insert_admin ON app.custom_fields FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.business_ids_with_role('admin')) AND created_by = (select app.uid()));
CREATE POLICY custom_fields_update_admin ON app.custom_fields FOR UPDATE TO capto_authenticated
  USING (business_id IN (SELECT app.business_ids_with_role('admin')))
  WITH CHECK (business_id IN (SELECT app.business_ids_with_role('admin')));
CREATE POLICY custom_fields_delete_admin ON app.custom_fields FOR DELETE TO capto_authenticated
  USING (business_id IN (SELECT app.business_ids_with_role('admin')));
-- The demo seeder defines the demo workspace's fields.
GRANT SELECT, INSERT ON app.custom_fields TO capto_service;
CREATE POLICY custom_fields_select_service ON app.custom_fields FOR SELECT TO capto_service USING (true);
CREATE POLICY custom_fields_insert_service ON app.custom_fields FOR INSERT TO capto_service WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- the values, on the records
-- ---------------------------------------------------------------------------
ALTER TABLE app.contacts ADD COLUMN custom jsonb NOT NULL DEFAULT '{}'::jsonb
  CONSTRAINT contacts_custom_check CHECK (jsonb_typeof(custom) = 'object' AND pg_column_size(custom) <= 8192);
ALTER TABLE app.deals ADD COLUMN custom jsonb NOT NULL DEFAULT '{}'::jsonb
  CONSTRAINT deals_custom_check CHECK (jsonb_typeof(custom) = 'object' AND pg_column_size(custom) <= 8192);
GRANT UPDATE (custom) ON app.contacts TO capto_authenticated;
GRANT UPDATE (custom) ON app.deals TO capto_authenticated;

-- Validates NEW.custom against the definitions of NEW.business_id for TG_ARGV[0]
-- ('contact' | 'deal'). SECURITY DEFINER so every writer (requests, the service role of
-- the demo seeder, the import running as its user) is held to the same definitions;
-- it reads only the definitions of the row's own business. Errors are check
-- violations (23514), which the API maps to 400 validation_failed.
CREATE FUNCTION app.check_custom_values() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  k text;
  v jsonb;
  f record;
  s text;
  ok boolean;
BEGIN
  FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(NEW.custom) e LOOP
    SELECT cf.type, cf.options INTO f FROM app.custom_fields cf
     WHERE cf.business_id = NEW.business_id AND cf.entity = TG_ARGV[0] AND cf.key = k;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'unknown custom field %', k USING ERRCODE = '23514';
    END IF;
    s := v #>> '{}';
    ok := CASE f.type
      WHEN 'text' THEN pg_catalog.jsonb_typeof(v) = 'string' AND pg_catalog.length(s) <= 1000
      WHEN 'number' THEN pg_catalog.jsonb_typeof(v) = 'number' AND pg_catalog.abs(s::numeric) < 1e15
      WHEN 'money' THEN pg_catalog.jsonb_typeof(v) = 'number' AND s::numeric = pg_catalog.trunc(s::numeric)
        AND pg_catalog.abs(s::numeric) <= 100000000000000
      WHEN 'date' THEN pg_catalog.jsonb_typeof(v) = 'string' AND s ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
      WHEN 'choice' THEN pg_catalog.jsonb_typeof(v) = 'string' AND f.options ? s
      WHEN 'checkbox' THEN pg_catalog.jsonb_typeof(v) = 'boolean'
      ELSE false
    END;
    IF NOT ok THEN
      RAISE EXCEPTION 'custom field % has a value of the wrong type', k USING ERRCODE = '23514';
    END IF;
    IF f.type = 'date' THEN
      PERFORM s::date; -- 2026-02-30 raises 22008 (validation_failed)
    END IF;
  END LOOP;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.check_custom_values() FROM PUBLIC;
-- Only rows that carry values pay for the check (an import without custom columns does not).
CREATE TRIGGER contacts_check_custom_insert BEFORE INSERT ON app.contacts
  FOR EACH ROW WHEN (NEW.custom <> '{}'::jsonb) EXECUTE FUNCTION app.check_custom_values('contact');
CREATE TRIGGER contacts_check_custom_update BEFORE UPDATE OF custom ON app.contacts
  FOR EACH ROW WHEN (NEW.custom <> '{}'::jsonb AND NEW.custom IS DISTINCT FROM OLD.custom)
  EXECUTE FUNCTION app.check_custom_values('contact');
CREATE TRIGGER deals_check_custom_insert BEFORE INSERT ON app.deals
  FOR EACH ROW WHEN (NEW.custom <> '{}'::jsonb) EXECUTE FUNCTION app.check_custom_values('deal');
CREATE TRIGGER deals_check_custom_update BEFORE UPDATE OF custom ON app.deals
  FOR EACH ROW WHEN (NEW.custom <> '{}'::jsonb AND NEW.custom IS DISTINCT FROM OLD.custom)
  EXECUTE FUNCTION app.check_custom_values('deal');
