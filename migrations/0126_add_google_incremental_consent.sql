-- Incremental consent for the Google connection (docs/ARCHITECTURE.md §16, §26): an owner/admin
-- adds a scope (business.manage) to the existing connection instead of disconnecting and
-- connecting again.
--
-- Who may do what, in the database:
--   * the connection's `scopes` change only through capto_service (the only UPDATE grant, on that
--     one column), and trigger google_connections_audited_scopes refuses the change without a
--     `google.scopes_added` audit row of the same transaction by an owner/admin of the business
--     (0005's audit.require_integration_event) — so "owners/admins only" and "audited" hold for
--     every role, not just in route code; the tokens stay in vault.secrets;
--   * a pending add-scope flow names the connection it extends (vault.oauth_flows.connection_id)
--     and the scopes it asked for; deleting the connection deletes the flow, so a consent that
--     finishes after a disconnect or a reconnect extends nothing.

-- The closed action set gains `google.scopes_added` (read from the catalog and extended, so
-- other modules' extensions survive — the method of 0100).
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
    UNION SELECT 'google.scopes_added'
  ) s;
  EXECUTE format('ALTER TABLE audit.integration_events DROP CONSTRAINT %I', con.conname);
  EXECUTE format('ALTER TABLE audit.integration_events ADD CONSTRAINT %I CHECK (action IN (%s))',
    con.conname, (SELECT string_agg(quote_literal(v), ', ') FROM unnest(vals) v));
END $$;

ALTER TABLE vault.oauth_flows
  ADD COLUMN connection_id uuid REFERENCES app.google_connections (id) ON DELETE CASCADE,
  ADD COLUMN scopes text[] CHECK (cardinality(scopes) BETWEEN 1 AND 10),
  ADD CONSTRAINT oauth_flows_add_scopes_whole CHECK ((connection_id IS NULL) = (scopes IS NULL));
CREATE INDEX oauth_flows_connection_id_idx ON vault.oauth_flows (connection_id);

GRANT UPDATE (scopes) ON app.google_connections TO capto_service;
-- Scopes only grow here: a merge that would drop one is refused as well.
CREATE FUNCTION app.google_connections_scopes_grow() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NOT (NEW.scopes @> OLD.scopes) THEN
    RAISE EXCEPTION 'a Google connection''s scopes only grow (incremental consent)' USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.google_connections_scopes_grow() FROM PUBLIC;
CREATE TRIGGER google_connections_scopes_grow BEFORE UPDATE OF scopes ON app.google_connections
  FOR EACH ROW EXECUTE FUNCTION app.google_connections_scopes_grow();
CREATE TRIGGER google_connections_audited_scopes AFTER UPDATE OF scopes ON app.google_connections
  FOR EACH ROW WHEN (OLD.scopes IS DISTINCT FROM NEW.scopes)
  EXECUTE FUNCTION audit.require_integration_event('google.scopes_added', 'subject');
