-- Workspaces (issue 4): business profile and trial, demo flags, creation by a user
-- (who becomes owner atomically), invitations, and every role rule of the issue
-- enforced here, so it holds when capto_authenticated issues the SQL directly (P4).
-- Triggers raise P0001 with HINT = a stable error code of src/shared/errors.ts.

-- ---------------------------------------------------------------------------
-- businesses: NMLS number, trial, demo expiry
-- ---------------------------------------------------------------------------
ALTER TABLE app.businesses
  -- NMLS unique identifiers are all digits (nmlsconsumeraccess.org), today up to 7.
  ADD COLUMN nmls_number text CHECK (nmls_number ~ '^[0-9]{1,12}$'),
  ADD COLUMN trial_ends_at timestamptz,
  ADD COLUMN demo_expires_at timestamptz;
UPDATE app.businesses SET trial_ends_at = created_at + interval '14 days';
ALTER TABLE app.businesses
  ALTER COLUMN trial_ends_at SET DEFAULT now() + interval '14 days',
  ALTER COLUMN trial_ends_at SET NOT NULL,
  -- A demo business always expires; a real one never does.
  ADD CONSTRAINT businesses_demo_expiry_check CHECK (is_demo = (demo_expires_at IS NOT NULL));
CREATE INDEX businesses_demo_expires_idx ON app.businesses (demo_expires_at) WHERE is_demo;

-- Is this business a demo? For policies and triggers of other modules (integrations
-- refuse demo businesses in the database too, not only in route code).
CREATE FUNCTION app.is_demo_business(bid uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT coalesce((SELECT b.is_demo FROM app.businesses b WHERE b.id = bid), false)
$$;
-- A demo user is a member of a demo business (only the demo flow creates such
-- memberships: demo businesses take no invitations). Demo users may neither create
-- real businesses nor join real ones, so the purge of a demo user never strands a
-- real business without its owner.
CREATE FUNCTION app.is_demo_user() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT EXISTS (
    SELECT 1 FROM app.memberships m JOIN app.businesses b ON b.id = m.business_id
    WHERE m.user_id = app.uid() AND b.is_demo
  )
$$;
REVOKE ALL ON FUNCTION app.is_demo_business(uuid), app.is_demo_user() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.is_demo_business(uuid), app.is_demo_user() TO capto_authenticated, capto_service;

-- A signed-in user creates a business for herself. Only these columns are insertable:
-- is_demo, trial_ends_at and demo_expires_at are the server's to set.
GRANT INSERT (id, name, nmls_number, created_by) ON app.businesses TO capto_authenticated;
GRANT UPDATE (nmls_number) ON app.businesses TO capto_authenticated;
CREATE POLICY businesses_insert_self ON app.businesses FOR INSERT TO capto_authenticated
  WITH CHECK (created_by = (select app.uid()) AND NOT is_demo AND NOT (select app.is_demo_user()));

-- The creator becomes owner in the same statement. An AFTER trigger, because the
-- INSERT policy cannot grant the membership and no request role may insert one.
-- Only when the creator is the signed-in caller: maintenance and the service role
-- (demo seeding) write their memberships explicitly. Note: INSERT … RETURNING would
-- need the SELECT policy (membership) before this trigger runs, so the application
-- generates the id and SELECTs after the INSERT.
CREATE FUNCTION app.businesses_add_creator_as_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.created_by IS NOT NULL AND NEW.created_by = app.uid() THEN
    INSERT INTO app.memberships (business_id, user_id, role) VALUES (NEW.id, NEW.created_by, 'owner');
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.businesses_add_creator_as_owner() FROM PUBLIC;
CREATE TRIGGER businesses_add_creator_as_owner AFTER INSERT ON app.businesses
  FOR EACH ROW EXECUTE FUNCTION app.businesses_add_creator_as_owner();

-- ---------------------------------------------------------------------------
-- Last-owner guard (0001), made lighter: FOR NO KEY UPDATE on the business row
-- still serialises two concurrent demotions/removals of its owners (each waits for
-- the other's row lock, then re-counts with a fresh snapshot: READ COMMITTED takes
-- one per statement in a VOLATILE function), but no longer blocks the FOR KEY SHARE
-- locks that every foreign-key insert into the business's tables takes.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION app.guard_last_owner() RETURNS trigger
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
  PERFORM 1 FROM app.businesses b WHERE b.id = OLD.business_id FOR NO KEY UPDATE;
  SELECT count(*) INTO remaining FROM app.memberships m
   WHERE m.business_id = OLD.business_id AND m.role = 'owner' AND m.user_id <> OLD.user_id;
  IF remaining = 0 THEN
    RAISE EXCEPTION 'a business must keep at least one owner' USING ERRCODE = 'P0001', HINT = 'last_owner';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

-- ---------------------------------------------------------------------------
-- invitations
-- ---------------------------------------------------------------------------
CREATE TABLE app.invitations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  email extensions.citext NOT NULL CHECK (length(email::text) BETWEEN 3 AND 254 AND email::text ~ '^[^@\s]+@[^@\s]+$'),
  role app.member_role NOT NULL DEFAULT 'member',
  -- SHA-256 of the 256-bit token mailed to the invitee; the token itself is never stored.
  token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  invited_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  expires_at timestamptz NOT NULL DEFAULT now() + interval '7 days',
  accepted_at timestamptz,
  accepted_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (accepted_at IS NULL OR revoked_at IS NULL)
);
ALTER TABLE app.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.invitations FORCE ROW LEVEL SECURITY;
CREATE INDEX invitations_business_id_idx ON app.invitations (business_id, created_at DESC);
CREATE INDEX invitations_invited_by_idx ON app.invitations (invited_by);
CREATE INDEX invitations_accepted_by_idx ON app.invitations (accepted_by);
-- One open invitation per (business, email): a re-invite revokes the old one first,
-- and two concurrent invites of the same address cannot both stay open.
CREATE UNIQUE INDEX invitations_one_open_key ON app.invitations (business_id, email)
  WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- Demo workspaces never send invitations (no mail to arbitrary addresses from an
-- anonymous demo); expiry is always 7 days from now, whatever the INSERT says.
CREATE FUNCTION app.invitations_before_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF app.is_demo_business(NEW.business_id) THEN
    RAISE EXCEPTION 'demo workspaces cannot invite people' USING ERRCODE = 'P0001', HINT = 'demo_restricted';
  END IF;
  NEW.expires_at := now() + interval '7 days';
  NEW.created_at := now();
  NEW.accepted_at := NULL;
  NEW.accepted_by := NULL;
  NEW.revoked_at := NULL;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.invitations_before_insert() FROM PUBLIC;
CREATE TRIGGER invitations_before_insert BEFORE INSERT ON app.invitations
  FOR EACH ROW EXECUTE FUNCTION app.invitations_before_insert();

-- Revocation is one-way and stamped by the server: no un-revoking, no revoking an
-- accepted invitation, no back- or forward-dated revocation.
CREATE FUNCTION app.invitations_before_revoke() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.revoked_at IS NOT DISTINCT FROM OLD.revoked_at THEN
    RETURN NEW;
  END IF;
  IF OLD.accepted_at IS NOT NULL THEN
    RAISE EXCEPTION 'the invitation was already accepted' USING ERRCODE = 'P0001', HINT = 'invitation_accepted';
  END IF;
  IF OLD.revoked_at IS NOT NULL OR NEW.revoked_at IS NULL THEN
    RAISE EXCEPTION 'the invitation was already revoked' USING ERRCODE = 'P0001', HINT = 'invitation_revoked';
  END IF;
  NEW.revoked_at := now();
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.invitations_before_revoke() FROM PUBLIC;
CREATE TRIGGER invitations_before_revoke BEFORE UPDATE OF revoked_at ON app.invitations
  FOR EACH ROW EXECUTE FUNCTION app.invitations_before_revoke();

-- Admins and owners see and manage their business's invitations; members do not
-- (a pending invitation names a person who has not agreed to anything yet). Only
-- an owner may invite, or revoke the invitation of, a future owner.
GRANT SELECT (id, business_id, email, role, invited_by, expires_at, accepted_at, accepted_by, revoked_at, created_at)
  ON app.invitations TO capto_authenticated;
GRANT INSERT (id, business_id, email, role, token_hash, invited_by) ON app.invitations TO capto_authenticated;
GRANT UPDATE (revoked_at) ON app.invitations TO capto_authenticated;
CREATE POLICY invitations_select_admin ON app.invitations FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.business_ids_with_role('admin'))));
CREATE POLICY invitations_insert_admin ON app.invitations FOR INSERT TO capto_authenticated
  WITH CHECK (
    invited_by = (select app.uid())
    AND (
      business_id = ANY (array(select app.business_ids_with_role('owner')))
      OR (business_id = ANY (array(select app.business_ids_with_role('admin'))) AND role <> 'owner')
    )
  );
CREATE POLICY invitations_update_admin ON app.invitations FOR UPDATE TO capto_authenticated
  USING (
    business_id = ANY (array(select app.business_ids_with_role('owner')))
    OR (business_id = ANY (array(select app.business_ids_with_role('admin'))) AND role <> 'owner')
  )
  WITH CHECK (
    business_id = ANY (array(select app.business_ids_with_role('owner')))
    OR (business_id = ANY (array(select app.business_ids_with_role('admin'))) AND role <> 'owner')
  );
GRANT SELECT, INSERT, UPDATE, DELETE ON app.invitations TO capto_service;
CREATE POLICY invitations_all_service ON app.invitations FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- Accepting an invitation. Why a SECURITY DEFINER function rather than asService:
-- joining a business is the one write where the caller is, by definition, not yet a
-- member, so no member-based policy can allow it. Doing it as capto_service would
-- hand route code a role with every right on memberships, and the rule "only with a
-- valid token mailed to your verified address" would live in TypeScript alone. This
-- function is the whole rule, in the database, for whoever calls it: the user is
-- the claims' user (never a parameter), the token is looked up by its hash and
-- locked (two concurrent accepts: the second sees accepted_at), it must be open and
-- unexpired, the caller's verified email must equal the invited one, and exactly one
-- membership with the invited role is created. capto_authenticated still has no
-- INSERT on memberships.
-- ---------------------------------------------------------------------------
CREATE FUNCTION app.accept_invitation(p_token_hash bytea)
RETURNS TABLE (business_id uuid, role app.member_role)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
#variable_conflict use_column
DECLARE
  me uuid := app.uid();
  inv record;
  caller record;
BEGIN
  IF me IS NULL THEN
    RAISE EXCEPTION 'sign in to accept an invitation' USING ERRCODE = '42501';
  END IF;
  SELECT i.id, i.business_id, i.email, i.role, i.expires_at, i.accepted_at, i.revoked_at
    INTO inv FROM app.invitations i WHERE i.token_hash = p_token_hash FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'this invitation link is not valid' USING ERRCODE = 'P0001', HINT = 'invitation_invalid';
  END IF;
  IF inv.accepted_at IS NOT NULL THEN
    RAISE EXCEPTION 'this invitation was already accepted' USING ERRCODE = 'P0001', HINT = 'invitation_accepted';
  END IF;
  IF inv.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'this invitation was revoked' USING ERRCODE = 'P0001', HINT = 'invitation_revoked';
  END IF;
  IF inv.expires_at <= now() THEN
    RAISE EXCEPTION 'this invitation has expired; ask for a new one' USING ERRCODE = 'P0001', HINT = 'invitation_expired';
  END IF;
  SELECT u.email, u.email_verified_at INTO caller FROM auth.users u WHERE u.id = me;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'sign in to accept an invitation' USING ERRCODE = '42501';
  END IF;
  IF caller.email_verified_at IS NULL THEN
    RAISE EXCEPTION 'verify your email address before accepting an invitation' USING ERRCODE = 'P0001', HINT = 'email_not_verified';
  END IF;
  -- citext's operators live in schema `extensions`, outside this function's empty
  -- search_path: compare the way citext does, explicitly.
  IF lower(caller.email::text) <> lower(inv.email::text) THEN
    RAISE EXCEPTION 'this invitation was sent to another email address' USING ERRCODE = 'P0001', HINT = 'invitation_email_mismatch';
  END IF;
  IF app.is_demo_user() THEN
    RAISE EXCEPTION 'demo accounts cannot join a business' USING ERRCODE = 'P0001', HINT = 'demo_restricted';
  END IF;
  -- Already a member: the invitation is used up, the existing role stays (an
  -- invitation never changes the role of someone who is already in).
  INSERT INTO app.memberships AS m (business_id, user_id, role) VALUES (inv.business_id, me, inv.role)
  ON CONFLICT (business_id, user_id) DO NOTHING;
  UPDATE app.invitations i SET accepted_at = now(), accepted_by = me WHERE i.id = inv.id;
  RETURN QUERY SELECT m.business_id, m.role FROM app.memberships m
    WHERE m.business_id = inv.business_id AND m.user_id = me;
END $$;
REVOKE ALL ON FUNCTION app.accept_invitation(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.accept_invitation(bytea) TO capto_authenticated;

-- ---------------------------------------------------------------------------
-- Auth events of this module (0002 owns the list; extend it without restating it,
-- so a type added there is kept).
-- ---------------------------------------------------------------------------
DO $$
DECLARE
  def text;
BEGIN
  SELECT pg_catalog.pg_get_constraintdef(c.oid) INTO def FROM pg_catalog.pg_constraint c
   WHERE c.conrelid = to_regclass('auth.audit_events') AND c.conname = 'audit_events_type_check';
  IF def IS NOT NULL AND position('business_deleted' IN def) = 0 THEN
    def := replace(def, 'ARRAY[', 'ARRAY[''business_deleted''::text, ');
    ALTER TABLE auth.audit_events DROP CONSTRAINT audit_events_type_check;
    EXECUTE 'ALTER TABLE auth.audit_events ADD CONSTRAINT audit_events_type_check ' || def;
  END IF;
END $$;
