-- Deleting an import job (DELETE /api/businesses/:bid/contacts/import/:jobId).
--
-- A job keeps the file's rows that failed (app.import_errors, raw cells included) and,
-- until it runs, the whole staged file (app.import_rows): personal data with no reason
-- to outlive the user's interest in the error report. The people who may read the job —
-- its uploader, and the business's admins and owners — may now delete it, with both
-- of those tables by cascade, unless it is running (the runner holds it). Contacts the
-- job created stay; their timeline's 'imported' entry then shows no actor.
GRANT DELETE ON app.import_jobs TO capto_authenticated;
CREATE POLICY import_jobs_delete_owner_or_admin ON app.import_jobs FOR DELETE TO capto_authenticated
  USING (
    business_id = ANY (array(select app.member_business_ids()))
    AND (created_by = (select app.uid()) OR business_id = ANY (array(select app.business_ids_with_role('admin'))))
    AND status <> 'running'
  );
