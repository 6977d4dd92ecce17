-- Google Business Profile posts (docs/ARCHITECTURE.md §26): drafts, scheduled posts that a job
-- publishes once, and what Google answered.
--
-- Who may do what, in the database:
--   * every member reads the business's posts;
--   * owners and admins write them — a post speaks publicly for the business, like starting a
--     campaign (§21) — in their own name, and only the content, the state and the time: the
--     delivery columns (Google's name, attempts, lease, the committed mark, errors) have no
--     request grant;
--   * the person's transitions are checked by app.gbp_posts_guard (below); capto_service — the
--     publishing job — makes the others;
--   * a person deletes only a post Google never had; a published post is deleted by moving it to
--     `deleting`, and the job removes it at Google and then here.

CREATE TABLE app.gbp_posts (
  id uuid PRIMARY KEY,
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  location_id uuid,
  topic_type text NOT NULL DEFAULT 'update' CHECK (topic_type IN ('update', 'offer', 'event')),
  summary text NOT NULL CHECK (length(summary) BETWEEN 1 AND 1500),
  cta_type text CHECK (cta_type IN ('LEARN_MORE', 'BOOK', 'ORDER', 'SHOP', 'SIGN_UP', 'CALL')),
  cta_url text CHECK (length(cta_url) BETWEEN 9 AND 2000 AND cta_url ~ '^https://'),
  image_url text CHECK (length(image_url) BETWEEN 9 AND 2000 AND image_url ~ '^https://'),
  event_title text CHECK (length(event_title) BETWEEN 1 AND 58),
  event_start timestamptz,
  event_end timestamptz,
  offer_coupon text CHECK (length(offer_coupon) BETWEEN 1 AND 58),
  offer_terms text CHECK (length(offer_terms) BETWEEN 1 AND 5000),
  offer_url text CHECK (length(offer_url) BETWEEN 9 AND 2000 AND offer_url ~ '^https://'),
  state text NOT NULL DEFAULT 'draft'
    CHECK (state IN ('draft', 'scheduled', 'publishing', 'published', 'updating', 'deleting', 'failed', 'cancelled')),
  publish_at timestamptz,
  -- Delivery (capto_service only).
  google_name text CHECK (length(google_name) <= 300),
  search_url text CHECK (length(search_url) <= 2000),
  published_at timestamptz,
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  lease_until timestamptz,
  -- Set in the instant before the create call can reach Google, never cleared: from then on
  -- every attempt looks the post up at Google before creating it again (§24's point of no return).
  committed_at timestamptz,
  error_code text CHECK (length(error_code) <= 100),
  error_message text CHECK (length(error_message) <= 500),
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id),
  FOREIGN KEY (business_id, location_id) REFERENCES app.gbp_locations (business_id, id)
    ON DELETE SET NULL (location_id),
  CHECK (state NOT IN ('scheduled', 'publishing') OR (publish_at IS NOT NULL AND location_id IS NOT NULL)),
  CHECK (topic_type = 'update' OR (event_title IS NOT NULL AND event_start IS NOT NULL AND event_end IS NOT NULL
                                    AND event_end >= event_start)),
  CHECK (cta_type IS NULL OR cta_type = 'CALL' OR cta_url IS NOT NULL)
);
CREATE INDEX gbp_posts_business_idx ON app.gbp_posts (business_id, publish_at, created_at);
CREATE INDEX gbp_posts_location_idx ON app.gbp_posts (business_id, location_id);
CREATE INDEX gbp_posts_created_by_idx ON app.gbp_posts (created_by);
-- The publisher's sweep: posts due or in flight, across businesses.
CREATE INDEX gbp_posts_due_idx ON app.gbp_posts (publish_at) WHERE state IN ('scheduled', 'publishing', 'updating', 'deleting');
ALTER TABLE app.gbp_posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.gbp_posts FORCE ROW LEVEL SECURITY;

GRANT SELECT ON app.gbp_posts TO capto_authenticated;
GRANT INSERT (id, business_id, location_id, topic_type, summary, cta_type, cta_url, image_url, event_title, event_start,
              event_end, offer_coupon, offer_terms, offer_url, state, publish_at, created_by)
  ON app.gbp_posts TO capto_authenticated;
GRANT UPDATE (location_id, topic_type, summary, cta_type, cta_url, image_url, event_title, event_start, event_end,
              offer_coupon, offer_terms, offer_url, state, publish_at, updated_at)
  ON app.gbp_posts TO capto_authenticated;
GRANT DELETE ON app.gbp_posts TO capto_authenticated;
CREATE POLICY gbp_posts_select_member ON app.gbp_posts FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
CREATE POLICY gbp_posts_insert_admin ON app.gbp_posts FOR INSERT TO capto_authenticated
  WITH CHECK (business_id = ANY (array(select app.business_ids_with_role('admin')))
              AND created_by = (select app.uid()) AND state IN ('draft', 'scheduled'));
CREATE POLICY gbp_posts_update_admin ON app.gbp_posts FOR UPDATE TO capto_authenticated
  USING (business_id = ANY (array(select app.business_ids_with_role('admin'))))
  WITH CHECK (business_id = ANY (array(select app.business_ids_with_role('admin'))));
CREATE POLICY gbp_posts_delete_admin ON app.gbp_posts FOR DELETE TO capto_authenticated
  USING (business_id = ANY (array(select app.business_ids_with_role('admin')))
         AND google_name IS NULL AND state NOT IN ('publishing', 'deleting'));
GRANT SELECT, UPDATE, DELETE ON app.gbp_posts TO capto_service;
CREATE POLICY gbp_posts_all_service ON app.gbp_posts FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- A person's transitions (the service's are the job's; see docs/ARCHITECTURE.md §26):
--   never at Google (draft, scheduled, failed, cancelled without google_name) → draft | scheduled | cancelled;
--   at Google (published, updating, failed with google_name) → updating (content edited) | deleting;
--   publishing and deleting belong to the job.
CREATE FUNCTION app.gbp_posts_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF current_user <> 'capto_authenticated' THEN
    RETURN NEW;
  END IF;
  IF OLD.state IN ('publishing', 'deleting') THEN
    RAISE EXCEPTION 'the post is being sent to Google' USING ERRCODE = 'P0001', HINT = 'gbp_post_not_editable';
  END IF;
  IF OLD.google_name IS NULL THEN
    IF NEW.state NOT IN ('draft', 'scheduled', 'cancelled') THEN
      RAISE EXCEPTION 'invalid transition % -> %', OLD.state, NEW.state USING ERRCODE = 'P0001', HINT = 'invalid_transition';
    END IF;
  ELSIF NEW.state NOT IN ('updating', 'deleting') THEN
    RAISE EXCEPTION 'invalid transition % -> %', OLD.state, NEW.state USING ERRCODE = 'P0001', HINT = 'invalid_transition';
  ELSIF NEW.state = 'deleting' AND (NEW.summary, NEW.topic_type) IS DISTINCT FROM (OLD.summary, OLD.topic_type) THEN
    RAISE EXCEPTION 'a post being deleted is not edited' USING ERRCODE = 'P0001', HINT = 'invalid_transition';
  END IF;
  IF NEW.location_id IS DISTINCT FROM OLD.location_id AND OLD.google_name IS NOT NULL THEN
    RAISE EXCEPTION 'a published post stays at its location' USING ERRCODE = 'P0001', HINT = 'invalid_transition';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.gbp_posts_guard() FROM PUBLIC;
CREATE TRIGGER gbp_posts_guard BEFORE UPDATE ON app.gbp_posts
  FOR EACH ROW EXECUTE FUNCTION app.gbp_posts_guard();

-- Detaching a location (or disconnecting Google) stops its scheduled posts before the foreign
-- key forgets which location they were for.
CREATE FUNCTION app.gbp_locations_stop_posts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  UPDATE app.gbp_posts
     SET state = 'cancelled', error_code = 'location_detached',
         error_message = 'the Business Profile location was detached before the post was published', updated_at = now()
   WHERE business_id = OLD.business_id AND location_id = OLD.id AND state = 'scheduled';
  RETURN OLD;
END $$;
REVOKE ALL ON FUNCTION app.gbp_locations_stop_posts() FROM PUBLIC;
CREATE TRIGGER gbp_locations_stop_posts BEFORE DELETE ON app.gbp_locations
  FOR EACH ROW EXECUTE FUNCTION app.gbp_locations_stop_posts();
