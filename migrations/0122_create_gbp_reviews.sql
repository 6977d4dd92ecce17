-- Google Business Profile reviews (docs/ARCHITECTURE.md §26): the attached location's reviews as
-- last synced from Google, and the business's reply.
--
-- Who may do what, in the database:
--   * every member reads the reviews of her businesses;
--   * only capto_service writes them (the sync job and the reply job);
--   * owners and admins ask for a reply — the reply speaks publicly for the business — by writing
--     `reply_draft` (and `reply_state = 'sending'`), nothing else; the reply job sends it.
--   * a new review of 3 stars or fewer notifies the business's owners and admins in-app
--     (app.notifications kind `gbp_review`, written by the sync in its own transaction).

-- app.notifications.kind gains `gbp_review` (read from the catalog and extended, as 0100 does).
DO $$
DECLARE
  con record;
  vals text[];
BEGIN
  SELECT c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS def INTO con
    FROM pg_catalog.pg_constraint c
   WHERE c.conrelid = 'app.notifications'::regclass AND c.contype = 'c'
     AND pg_catalog.pg_get_constraintdef(c.oid) ~ '\mkind\M = ANY \(';
  IF con IS NULL THEN
    RAISE EXCEPTION 'no IN-list CHECK on app.notifications.kind';
  END IF;
  SELECT array_agg(DISTINCT v ORDER BY v) INTO vals FROM (
    SELECT m[1] AS v FROM regexp_matches(con.def, '''([^'']+)''', 'g') AS m
    UNION SELECT 'gbp_review'
  ) s;
  EXECUTE format('ALTER TABLE app.notifications DROP CONSTRAINT %I', con.conname);
  EXECUTE format('ALTER TABLE app.notifications ADD CONSTRAINT %I CHECK (kind IN (%s))',
    con.conname, (SELECT string_agg(quote_literal(v), ', ') FROM unnest(vals) v));
END $$;

-- … and a user may ask for it in her daily digest (app.notification_settings.email_kinds).
DO $$
DECLARE
  con record;
  vals text[];
BEGIN
  SELECT c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS def INTO con
    FROM pg_catalog.pg_constraint c
   WHERE c.conrelid = 'app.notification_settings'::regclass AND c.contype = 'c'
     AND pg_catalog.pg_get_constraintdef(c.oid) ~ '\memail_kinds\M <@ ARRAY\[';
  IF con IS NULL THEN
    RAISE EXCEPTION 'no ARRAY CHECK on app.notification_settings.email_kinds';
  END IF;
  SELECT array_agg(DISTINCT v ORDER BY v) INTO vals FROM (
    SELECT m[1] AS v FROM regexp_matches(con.def, '''([^'']+)''', 'g') AS m
    UNION SELECT 'gbp_review'
  ) s;
  EXECUTE format('ALTER TABLE app.notification_settings DROP CONSTRAINT %I', con.conname);
  EXECUTE format('ALTER TABLE app.notification_settings ADD CONSTRAINT %I CHECK (email_kinds <@ ARRAY[%s]::text[])',
    con.conname, (SELECT string_agg(quote_literal(v), ', ') FROM unnest(vals) v));
END $$;

CREATE TABLE app.gbp_reviews (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  location_id uuid,
  google_name text NOT NULL CHECK (length(google_name) BETWEEN 1 AND 400),
  star_rating smallint NOT NULL CHECK (star_rating BETWEEN 1 AND 5),
  comment text CHECK (length(comment) <= 10000),
  reviewer_name text CHECK (length(reviewer_name) <= 300),
  reviewed_at timestamptz NOT NULL,
  review_updated_at timestamptz,
  reply_comment text CHECK (length(reply_comment) <= 4096),
  reply_updated_at timestamptz,
  -- A reply an owner/admin asked for, until the job has sent it (or Google refused it).
  reply_draft text CHECK (length(reply_draft) BETWEEN 1 AND 4096),
  reply_state text CHECK (reply_state IN ('sending', 'failed')),
  reply_error text CHECK (length(reply_error) <= 500),
  reply_requested_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  synced_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, google_name),
  UNIQUE (business_id, id),
  FOREIGN KEY (business_id, location_id) REFERENCES app.gbp_locations (business_id, id)
    ON DELETE SET NULL (location_id)
);
CREATE INDEX gbp_reviews_business_idx ON app.gbp_reviews (business_id, reviewed_at DESC);
CREATE INDEX gbp_reviews_unanswered_idx ON app.gbp_reviews (business_id, reviewed_at DESC) WHERE reply_comment IS NULL;
CREATE INDEX gbp_reviews_location_idx ON app.gbp_reviews (business_id, location_id);
CREATE INDEX gbp_reviews_requested_by_idx ON app.gbp_reviews (reply_requested_by);
ALTER TABLE app.gbp_reviews ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.gbp_reviews FORCE ROW LEVEL SECURITY;

GRANT SELECT ON app.gbp_reviews TO capto_authenticated;
GRANT UPDATE (reply_draft, reply_state, reply_requested_by) ON app.gbp_reviews TO capto_authenticated;
CREATE POLICY gbp_reviews_select_member ON app.gbp_reviews FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
CREATE POLICY gbp_reviews_reply_admin ON app.gbp_reviews FOR UPDATE TO capto_authenticated
  USING (business_id = ANY (array(select app.business_ids_with_role('admin'))))
  WITH CHECK (business_id = ANY (array(select app.business_ids_with_role('admin')))
              AND reply_state = 'sending' AND reply_draft IS NOT NULL
              AND reply_requested_by = (select app.uid()));
GRANT SELECT, INSERT, UPDATE, DELETE ON app.gbp_reviews TO capto_service;
CREATE POLICY gbp_reviews_all_service ON app.gbp_reviews FOR ALL TO capto_service USING (true) WITH CHECK (true);
