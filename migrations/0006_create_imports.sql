-- CSV contact import (issue 7 §3): the job, its staged rows (so a job survives a
-- crash and resumes from its last committed batch), and its per-row errors.
--
-- Tenant tables like every other: business_id NOT NULL, RLS ENABLED + FORCED,
-- policies through the 0001 helpers, an index led by business_id, explicit grants.
-- The uploaded file may carry columns nobody mapped (SSNs, credit scores…), so the
-- staged rows are readable only by the member who uploaded them and are deleted when
-- the job ends; job status and the error report are visible to the uploader and to
-- the business's admins and owners.

CREATE TABLE app.import_jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  filename text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
  status text NOT NULL DEFAULT 'uploaded' CHECK (status IN ('uploaded', 'mapping', 'running', 'completed', 'failed')),
  dedupe_mode text NOT NULL DEFAULT 'skip' CHECK (dedupe_mode IN ('skip', 'update')),
  headers jsonb NOT NULL CHECK (jsonb_typeof(headers) = 'array' AND jsonb_array_length(headers) BETWEEN 1 AND 100),
  mapping jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(mapping) = 'object' AND pg_column_size(mapping) <= 2048),
  total_rows integer NOT NULL CHECK (total_rows BETWEEN 1 AND 100000),
  rows_done integer NOT NULL DEFAULT 0,
  created_count integer NOT NULL DEFAULT 0 CHECK (created_count >= 0),
  updated_count integer NOT NULL DEFAULT 0 CHECK (updated_count >= 0),
  skipped_count integer NOT NULL DEFAULT 0 CHECK (skipped_count >= 0),
  failed_count integer NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
  error text CHECK (length(error) <= 1000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  UNIQUE (business_id, id),
  -- Every processed row is counted exactly once: the counters cannot drift from the cursor.
  CHECK (rows_done BETWEEN 0 AND total_rows),
  CHECK (created_count + updated_count + skipped_count + failed_count = rows_done)
);
ALTER TABLE app.import_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.import_jobs FORCE ROW LEVEL SECURITY;
CREATE INDEX import_jobs_business_created_idx ON app.import_jobs (business_id, created_at DESC, id);
CREATE INDEX import_jobs_created_by_idx ON app.import_jobs (created_by);
CREATE INDEX import_jobs_running_idx ON app.import_jobs (status) WHERE status = 'running';

-- The job's life cycle, whoever issues the UPDATE: uploaded → mapping → running →
-- completed | failed. Mapping and dedupe mode are frozen once the job runs, progress
-- only moves forward, and a finished job is immutable — so a stale or replayed
-- request can neither rewind a cursor (re-importing rows) nor rewrite a report.
CREATE FUNCTION app.import_jobs_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF OLD.status IN ('completed', 'failed') THEN
    RAISE EXCEPTION 'import job % has finished', OLD.id USING ERRCODE = 'P0001', HINT = 'import_job_finished';
  END IF;
  IF NOT (NEW.status = OLD.status
          OR (OLD.status IN ('uploaded', 'mapping') AND NEW.status IN ('mapping', 'running', 'failed'))
          OR (OLD.status = 'running' AND NEW.status IN ('completed', 'failed'))) THEN
    RAISE EXCEPTION 'import job cannot go from % to %', OLD.status, NEW.status USING ERRCODE = 'P0001', HINT = 'import_job_transition';
  END IF;
  IF OLD.status = 'running' AND (NEW.mapping IS DISTINCT FROM OLD.mapping OR NEW.dedupe_mode IS DISTINCT FROM OLD.dedupe_mode) THEN
    RAISE EXCEPTION 'a running import job cannot change its mapping' USING ERRCODE = 'P0001', HINT = 'import_job_transition';
  END IF;
  IF NEW.rows_done < OLD.rows_done OR NEW.created_count < OLD.created_count OR NEW.updated_count < OLD.updated_count
     OR NEW.skipped_count < OLD.skipped_count OR NEW.failed_count < OLD.failed_count THEN
    RAISE EXCEPTION 'import progress only moves forward' USING ERRCODE = 'P0001', HINT = 'import_job_transition';
  END IF;
  NEW.updated_at := pg_catalog.now();
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.import_jobs_guard() FROM PUBLIC;
CREATE TRIGGER import_jobs_guard BEFORE UPDATE ON app.import_jobs
  FOR EACH ROW EXECUTE FUNCTION app.import_jobs_guard();

-- Members start imports into their own business, as themselves, from a clean slate.
GRANT SELECT, INSERT ON app.import_jobs TO capto_authenticated;
GRANT UPDATE (status, dedupe_mode, mapping, rows_done, created_count, updated_count, skipped_count,
  failed_count, error, started_at, finished_at) ON app.import_jobs TO capto_authenticated;
CREATE POLICY import_jobs_select_owner_or_admin ON app.import_jobs FOR SELECT TO capto_authenticated
  USING (
    business_id = ANY (array(select app.member_business_ids()))
    AND (created_by = (select app.uid()) OR business_id = ANY (array(select app.business_ids_with_role('admin'))))
  );
CREATE POLICY import_jobs_insert_member ON app.import_jobs FOR INSERT TO capto_authenticated
  WITH CHECK (
    business_id = ANY (array(select app.member_business_ids()))
    AND created_by = (select app.uid())
    AND status = 'uploaded' AND rows_done = 0 AND started_at IS NULL AND finished_at IS NULL
  );
-- Only the uploader drives her job (the runner acts as her, so RLS on contacts applies).
CREATE POLICY import_jobs_update_creator ON app.import_jobs FOR UPDATE TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())) AND created_by = (select app.uid()))
  WITH CHECK (business_id = ANY (array(select app.member_business_ids())) AND created_by = (select app.uid()));
-- At start-up the server finds interrupted jobs to resume, and fails those it cannot
-- (e.g. the uploader left the business, so RLS no longer lets her close her own job).
-- The service also sees `failed` jobs: an UPDATE's new row must pass the SELECT policy.
GRANT SELECT ON app.import_jobs TO capto_service;
GRANT UPDATE (status, error, finished_at) ON app.import_jobs TO capto_service;
CREATE POLICY import_jobs_select_service_running ON app.import_jobs FOR SELECT TO capto_service
  USING (status IN ('running', 'failed'));
CREATE POLICY import_jobs_update_service_fail ON app.import_jobs FOR UPDATE TO capto_service
  USING (status = 'running') WITH CHECK (status IN ('running', 'failed'));

-- ---------------------------------------------------------------------------
-- import_rows: the uploaded data rows, staged until the job ends.
-- ---------------------------------------------------------------------------
CREATE TABLE app.import_rows (
  business_id uuid NOT NULL,
  job_id uuid NOT NULL,
  row_number integer NOT NULL CHECK (row_number BETWEEN 1 AND 100000),
  line integer NOT NULL CHECK (line >= 1),
  cells jsonb NOT NULL CHECK (jsonb_typeof(cells) = 'array'),
  PRIMARY KEY (business_id, job_id, row_number),
  FOREIGN KEY (business_id, job_id) REFERENCES app.import_jobs (business_id, id) ON DELETE CASCADE
);
ALTER TABLE app.import_rows ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.import_rows FORCE ROW LEVEL SECURITY;

-- `job_id IN (… created_by = uid)` is evaluated once per statement (hashed subplan),
-- not per staged row.
GRANT SELECT, INSERT, DELETE ON app.import_rows TO capto_authenticated;
CREATE POLICY import_rows_select_creator ON app.import_rows FOR SELECT TO capto_authenticated
  USING (
    business_id = ANY (array(select app.member_business_ids()))
    AND job_id IN (SELECT j.id FROM app.import_jobs j WHERE j.created_by = (select app.uid()))
  );
CREATE POLICY import_rows_insert_creator ON app.import_rows FOR INSERT TO capto_authenticated
  WITH CHECK (
    business_id = ANY (array(select app.member_business_ids()))
    AND job_id IN (SELECT j.id FROM app.import_jobs j WHERE j.created_by = (select app.uid()) AND j.status = 'uploaded')
  );
CREATE POLICY import_rows_delete_creator ON app.import_rows FOR DELETE TO capto_authenticated
  USING (
    business_id = ANY (array(select app.member_business_ids()))
    AND job_id IN (SELECT j.id FROM app.import_jobs j WHERE j.created_by = (select app.uid()))
  );

-- When the service had to fail a job, it also discards the job's staged file.
GRANT SELECT, DELETE ON app.import_rows TO capto_service;
CREATE POLICY import_rows_select_service_failed ON app.import_rows FOR SELECT TO capto_service
  USING (job_id IN (SELECT j.id FROM app.import_jobs j WHERE j.status = 'failed'));
CREATE POLICY import_rows_delete_service_failed ON app.import_rows FOR DELETE TO capto_service
  USING (job_id IN (SELECT j.id FROM app.import_jobs j WHERE j.status = 'failed'));

-- ---------------------------------------------------------------------------
-- import_errors: one row per problem found in a data row (append-only).
-- ---------------------------------------------------------------------------
CREATE TABLE app.import_errors (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  business_id uuid NOT NULL,
  job_id uuid NOT NULL,
  row_number integer NOT NULL CHECK (row_number BETWEEN 1 AND 100000),
  line integer NOT NULL CHECK (line >= 1),
  column_name text CHECK (length(column_name) <= 200),
  code text NOT NULL CHECK (code ~ '^[a-z][a-z_]{1,40}$'),
  message text NOT NULL CHECK (length(message) <= 500),
  raw jsonb NOT NULL CHECK (jsonb_typeof(raw) = 'array'),
  FOREIGN KEY (business_id, job_id) REFERENCES app.import_jobs (business_id, id) ON DELETE CASCADE
);
ALTER TABLE app.import_errors ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.import_errors FORCE ROW LEVEL SECURITY;
CREATE INDEX import_errors_job_idx ON app.import_errors (business_id, job_id, row_number, id);

GRANT SELECT, INSERT ON app.import_errors TO capto_authenticated;
CREATE POLICY import_errors_select_owner_or_admin ON app.import_errors FOR SELECT TO capto_authenticated
  USING (
    business_id = ANY (array(select app.member_business_ids()))
    AND job_id IN (
      SELECT j.id FROM app.import_jobs j
      WHERE j.created_by = (select app.uid()) OR j.business_id = ANY (array(select app.business_ids_with_role('admin')))
    )
  );
CREATE POLICY import_errors_insert_creator ON app.import_errors FOR INSERT TO capto_authenticated
  WITH CHECK (
    business_id = ANY (array(select app.member_business_ids()))
    AND job_id IN (SELECT j.id FROM app.import_jobs j WHERE j.created_by = (select app.uid()) AND j.status = 'running')
  );
