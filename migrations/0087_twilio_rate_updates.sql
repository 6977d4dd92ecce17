-- Owners and admins set a Twilio number's throughput (messages per second) through the API
-- (docs/ARCHITECTURE.md §16 "Per-number throughput"). As every Twilio configuration change,
-- it is written only by capto_service and only with an audit row of the same transaction by an
-- owner/admin (0005's audit.require_integration_event): the closed set of audit actions gains
-- `twilio.config.updated` (read from the catalog and extended, as 0081 does, so other
-- modules' additions survive), the service gains UPDATE on that one column, and a trigger
-- refuses an unaudited change.
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
    SELECT btrim(x) AS v
      FROM regexp_matches(con.def, '''([^'']+)''', 'g') AS m,
           LATERAL unnest(CASE WHEN m[1] LIKE '{%}' THEN string_to_array(btrim(m[1], '{}'), ',') ELSE ARRAY[m[1]] END) AS x
    UNION SELECT 'twilio.config.updated'
  ) s;
  EXECUTE format('ALTER TABLE audit.integration_events DROP CONSTRAINT %I', con.conname);
  EXECUTE format('ALTER TABLE audit.integration_events ADD CONSTRAINT %I CHECK (action = ANY (ARRAY[%s]))',
    con.conname, (SELECT string_agg(quote_literal(v) || '::text', ', ' ORDER BY v) FROM unnest(vals) AS v));
END $$;

GRANT UPDATE (messages_per_second) ON app.twilio_configs TO capto_service;
CREATE TRIGGER twilio_configs_audited_rate AFTER UPDATE OF messages_per_second ON app.twilio_configs
  FOR EACH ROW WHEN (OLD.messages_per_second IS DISTINCT FROM NEW.messages_per_second)
  EXECUTE FUNCTION audit.require_integration_event('twilio.config.updated', 'subject');
