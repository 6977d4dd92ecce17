-- "Draft a reply" for a Business Profile review (docs/ARCHITECTURE.md §23, §26): its provider calls
-- are recorded in app.ai_calls as feature `review_reply`, counted against the business's budget and
-- the caller's rate limit like every other call. The closed set is read from the catalog and
-- extended (the method of 0100), so other modules' additions survive whatever the order.
DO $$
DECLARE
  con record;
  vals text[];
BEGIN
  SELECT c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS def INTO con
    FROM pg_catalog.pg_constraint c
   WHERE c.conrelid = 'app.ai_calls'::regclass AND c.contype = 'c'
     AND pg_catalog.pg_get_constraintdef(c.oid) ~ '\mfeature\M = ANY \(';
  IF con IS NULL THEN
    RAISE EXCEPTION 'no IN-list CHECK on app.ai_calls.feature';
  END IF;
  SELECT array_agg(DISTINCT v ORDER BY v) INTO vals FROM (
    SELECT m[1] AS v FROM regexp_matches(con.def, '''([^'']+)''', 'g') AS m
    UNION SELECT 'review_reply'
  ) s;
  EXECUTE format('ALTER TABLE app.ai_calls DROP CONSTRAINT %I', con.conname);
  EXECUTE format('ALTER TABLE app.ai_calls ADD CONSTRAINT %I CHECK (feature IN (%s))',
    con.conname, (SELECT string_agg(quote_literal(v), ', ') FROM unnest(vals) v));
END $$;
