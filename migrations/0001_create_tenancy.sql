-- Core tenancy: users, businesses, memberships, and the policy helpers every tenant
-- table uses. Runs as capto_owner (the migrator sets the role); RLS is ENABLED and
-- FORCED on every table, and each table's policies and grants live beside it.

CREATE SCHEMA app;
CREATE SCHEMA auth;
REVOKE ALL ON SCHEMA app, auth FROM PUBLIC;
GRANT USAGE ON SCHEMA app, auth TO capto_authenticated, capto_anon, capto_service;

CREATE TYPE app.member_role AS ENUM ('member', 'admin', 'owner');

-- Users (the authentication issue extends this table).
CREATE TABLE auth.users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email extensions.citext NOT NULL UNIQUE CHECK (length(email::text) BETWEEN 3 AND 254),
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE auth.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.users FORCE ROW LEVEL SECURITY;

CREATE TABLE app.businesses (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  is_demo boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL
);
ALTER TABLE app.businesses ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.businesses FORCE ROW LEVEL SECURITY;
CREATE INDEX businesses_created_by_idx ON app.businesses (created_by);

CREATE TABLE app.memberships (
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  role app.member_role NOT NULL DEFAULT 'member',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, user_id)
);
ALTER TABLE app.memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.memberships FORCE ROW LEVEL SECURITY;
-- The helpers below look memberships up by user; the PK serves lookups by business.
CREATE INDEX memberships_user_id_idx ON app.memberships (user_id, business_id, role);
CREATE INDEX memberships_business_id_idx ON app.memberships (business_id);

-- ---------------------------------------------------------------------------
-- Policy helpers: SECURITY DEFINER (they read memberships without recursing into
-- its own policies), search_path pinned to '', and always called as
-- `(select app.…())` so PostgreSQL evaluates them once per statement (initplan).
-- ---------------------------------------------------------------------------

-- The signed-in user's id from the transaction-local claims, or NULL when the claims
-- are missing, empty or malformed: a broken context must mean "nobody", never an error
-- path that some caller might treat differently.
CREATE FUNCTION app.uid() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  raw text := current_setting('request.jwt.claims', true);
BEGIN
  IF raw IS NULL OR raw = '' THEN
    RETURN NULL;
  END IF;
  RETURN (raw::jsonb ->> 'sub')::uuid;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

-- Inside the helpers app.uid() is itself wrapped in (SELECT …): evaluated once, not
-- once per membership row scanned (it parses JSON under an exception block).
-- Every business the current user belongs to. Policies compare with
-- `business_id = ANY (array(select app.member_business_ids()))`: the array is an
-- initplan computed once per statement, and the policy column is index-scanned.
CREATE FUNCTION app.member_business_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT m.business_id
  FROM app.memberships m
  WHERE m.user_id = (SELECT app.uid())
$$;

-- Businesses where the current user holds at least `min_role` (member < admin < owner).
CREATE FUNCTION app.business_ids_with_role(min_role app.member_role) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT m.business_id
  FROM app.memberships m
  WHERE m.user_id = (SELECT app.uid()) AND m.role >= min_role
$$;

CREATE FUNCTION app.is_member(bid uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT EXISTS (SELECT 1 FROM app.memberships m WHERE m.business_id = bid AND m.user_id = (SELECT app.uid()))
$$;

CREATE FUNCTION app.has_role(bid uuid, min_role app.member_role) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT EXISTS (
    SELECT 1 FROM app.memberships m
    WHERE m.business_id = bid AND m.user_id = (SELECT app.uid()) AND m.role >= min_role
  )
$$;

REVOKE ALL ON FUNCTION app.uid(), app.member_business_ids(), app.business_ids_with_role(app.member_role),
  app.is_member(uuid), app.has_role(uuid, app.member_role) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.uid(), app.member_business_ids(), app.business_ids_with_role(app.member_role),
  app.is_member(uuid), app.has_role(uuid, app.member_role) TO capto_authenticated, capto_anon, capto_service;

-- ---------------------------------------------------------------------------
-- Grants and policies
-- ---------------------------------------------------------------------------

-- users: a user reads her own row, and the rows of people she shares a business with
-- (team lists show names and emails). Writes go through capto_service (auth flows).
GRANT SELECT ON auth.users TO capto_authenticated;
CREATE POLICY users_select_self_or_teammate ON auth.users FOR SELECT TO capto_authenticated
  USING (
    id = (select app.uid())
    OR id IN (SELECT m.user_id FROM app.memberships m WHERE m.business_id = ANY (array(select app.member_business_ids())))
  );
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.users TO capto_service;
CREATE POLICY users_all_service ON auth.users FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- businesses: members read; admins update (not the id); only owners delete.
GRANT SELECT, DELETE ON app.businesses TO capto_authenticated;
GRANT UPDATE (name) ON app.businesses TO capto_authenticated;
CREATE POLICY businesses_select_member ON app.businesses FOR SELECT TO capto_authenticated
  USING (id = ANY (array(select app.member_business_ids())));
CREATE POLICY businesses_update_admin ON app.businesses FOR UPDATE TO capto_authenticated
  USING (id = ANY (array(select app.business_ids_with_role('admin'))))
  WITH CHECK (id = ANY (array(select app.business_ids_with_role('admin'))));
CREATE POLICY businesses_delete_owner ON app.businesses FOR DELETE TO capto_authenticated
  USING (id = ANY (array(select app.business_ids_with_role('owner'))));
GRANT SELECT, INSERT, UPDATE, DELETE ON app.businesses TO capto_service;
CREATE POLICY businesses_all_service ON app.businesses FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- memberships: members read their business's memberships. Role changes are for
-- admins and owners, and only the role column is updatable (no business hop).
-- Owners may set any role; admins may not touch an owner's row nor make an owner.
GRANT SELECT, DELETE ON app.memberships TO capto_authenticated;
GRANT UPDATE (role) ON app.memberships TO capto_authenticated;
CREATE POLICY memberships_select_member ON app.memberships FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
CREATE POLICY memberships_update_admin ON app.memberships FOR UPDATE TO capto_authenticated
  USING (
    business_id = ANY (array(select app.business_ids_with_role('owner')))
    OR (business_id = ANY (array(select app.business_ids_with_role('admin'))) AND role <> 'owner')
  )
  WITH CHECK (
    business_id = ANY (array(select app.business_ids_with_role('owner')))
    OR (business_id = ANY (array(select app.business_ids_with_role('admin'))) AND role <> 'owner')
  );
-- Remove a member (admin+, owners only by owners) or leave (your own row).
CREATE POLICY memberships_delete_admin_or_self ON app.memberships FOR DELETE TO capto_authenticated
  USING (
    business_id = ANY (array(select app.member_business_ids()))
    AND (
      user_id = (select app.uid())
      OR business_id = ANY (array(select app.business_ids_with_role('owner')))
      OR (business_id = ANY (array(select app.business_ids_with_role('admin'))) AND role <> 'owner')
    )
  );
GRANT SELECT, INSERT, UPDATE, DELETE ON app.memberships TO capto_service;
CREATE POLICY memberships_all_service ON app.memberships FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- A business never loses its last owner, whoever issues the statement: demotion or
-- removal of the last owner fails. Row locks on the business's owner rows serialise
-- two concurrent demotions, so they cannot both pass the check.
CREATE FUNCTION app.guard_last_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  remaining int;
BEGIN
  IF OLD.role <> 'owner' OR (TG_OP = 'UPDATE' AND NEW.role = 'owner') THEN
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  END IF;
  -- The business itself is being deleted (cascade): nothing to protect.
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM app.businesses b WHERE b.id = OLD.business_id) THEN
    RETURN OLD;
  END IF;
  PERFORM 1 FROM app.businesses b WHERE b.id = OLD.business_id FOR UPDATE;
  SELECT count(*) INTO remaining FROM app.memberships m
   WHERE m.business_id = OLD.business_id AND m.role = 'owner' AND m.user_id <> OLD.user_id;
  IF remaining = 0 THEN
    RAISE EXCEPTION 'a business must keep at least one owner' USING ERRCODE = 'P0001', HINT = 'last_owner';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
REVOKE ALL ON FUNCTION app.guard_last_owner() FROM PUBLIC;
CREATE TRIGGER memberships_guard_last_owner
  BEFORE UPDATE OF role OR DELETE ON app.memberships
  FOR EACH ROW EXECUTE FUNCTION app.guard_last_owner();
