-- Google Business Profile: the one location a business has attached (docs/ARCHITECTURE.md §26).
--
-- Who may do what, in the database:
--   * members read which location is attached (Google's names, title, address, review link);
--   * no request role writes: capto_service attaches, replaces and detaches, and only with an
--     integration audit row of the same transaction by an owner/admin of the business
--     (app.gbp_locations_audited, the pattern of 0005's audit.require_integration_event);
--   * the location hangs off the Google connection (ON DELETE CASCADE): disconnecting Google
--     detaches it in the same transaction, covered by that transaction's google.disconnected row.

-- The closed sets of 0005 gain the Business Profile actions (read from the catalog and
-- extended, so other modules' extensions survive — the method of 0100).
DO $$
DECLARE
  con record;
  vals text[];
BEGIN
  SELECT c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS def INTO con
    FROM pg_catalog.pg_constraint c
   WHERE c.conrelid = 'audit.integration_events'::regclass AND c.contype = 'c'
     AND pg_catalog.pg_get_constraintdef(c.oid) ~ '\maction\M = ANY \(';
  IF con IS NULL THEN
    RAISE EXCEPTION 'no IN-list CHECK on audit.integration_events.action';
  END IF;
  SELECT array_agg(DISTINCT v ORDER BY v) INTO vals FROM (
    SELECT m[1] AS v FROM regexp_matches(con.def, '''([^'']+)''', 'g') AS m
    UNION SELECT unnest(ARRAY['gbp.location.attached', 'gbp.location.detached'])
  ) s;
  EXECUTE format('ALTER TABLE audit.integration_events DROP CONSTRAINT %I', con.conname);
  EXECUTE format('ALTER TABLE audit.integration_events ADD CONSTRAINT %I CHECK (action IN (%s))',
    con.conname, (SELECT string_agg(quote_literal(v), ', ') FROM unnest(vals) v));
END $$;

CREATE TABLE app.gbp_locations (
  id uuid PRIMARY KEY,
  business_id uuid NOT NULL UNIQUE REFERENCES app.businesses (id) ON DELETE CASCADE,
  connection_id uuid NOT NULL REFERENCES app.google_connections (id) ON DELETE CASCADE,
  account_name text NOT NULL CHECK (account_name ~ '^accounts/[0-9]{1,30}$'),
  location_name text NOT NULL CHECK (location_name ~ '^locations/[0-9]{1,30}$'),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  address text CHECK (length(address) <= 500),
  place_id text CHECK (length(place_id) <= 300),
  maps_uri text CHECK (length(maps_uri) <= 2000),
  review_uri text CHECK (length(review_uri) <= 2000),
  -- needs_reconnect: Google refused the grant (revoked or expired); nothing is sent until an
  -- owner/admin connects again and re-attaches.
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'needs_reconnect')),
  attached_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  attached_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id)
);
CREATE INDEX gbp_locations_connection_idx ON app.gbp_locations (connection_id);
CREATE INDEX gbp_locations_attached_by_idx ON app.gbp_locations (attached_by);
ALTER TABLE app.gbp_locations ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.gbp_locations FORCE ROW LEVEL SECURITY;

GRANT SELECT ON app.gbp_locations TO capto_authenticated;
CREATE POLICY gbp_locations_select_member ON app.gbp_locations FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
GRANT SELECT, INSERT, DELETE ON app.gbp_locations TO capto_service;
GRANT UPDATE (status) ON app.gbp_locations TO capto_service;
CREATE POLICY gbp_locations_all_service ON app.gbp_locations FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- Attaching and detaching need an audit row of this transaction by an owner/admin: attach
-- (insert) its own `gbp.location.attached`; a removal `gbp.location.detached`, a replacement's
-- `gbp.location.attached`, or the Google disconnect that cascades here.
CREATE FUNCTION app.gbp_locations_audited() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  r app.gbp_locations;
  actions text[];
BEGIN
  IF TG_OP = 'DELETE' THEN
    r := OLD;
    IF NOT EXISTS (SELECT 1 FROM app.businesses b WHERE b.id = r.business_id) THEN
      RETURN OLD; -- the business itself is being deleted
    END IF;
    actions := ARRAY['gbp.location.detached', 'gbp.location.attached', 'google.disconnected'];
  ELSE
    r := NEW;
    actions := ARRAY['gbp.location.attached'];
  END IF;
  IF NOT EXISTS (
    SELECT 1 FROM audit.integration_events e
     WHERE e.xact_id = pg_catalog.pg_current_xact_id()
       AND e.business_id = r.business_id
       AND e.action = ANY (actions)
       AND EXISTS (SELECT 1 FROM app.memberships m
                    WHERE m.business_id = r.business_id AND m.user_id = e.actor_user_id AND m.role >= 'admin')
  ) THEN
    RAISE EXCEPTION 'Business Profile location changes need an audit row by an owner or admin in the same transaction'
      USING ERRCODE = '42501';
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.gbp_locations_audited() FROM PUBLIC;
CREATE TRIGGER gbp_locations_audited_insert AFTER INSERT ON app.gbp_locations
  FOR EACH ROW EXECUTE FUNCTION app.gbp_locations_audited();
CREATE TRIGGER gbp_locations_audited_delete AFTER DELETE ON app.gbp_locations
  FOR EACH ROW EXECUTE FUNCTION app.gbp_locations_audited();
