-- The contacts_notify_owner trigger (0071) asked `app.uid()` twice in its WHEN clause, and
-- WHEN is evaluated for every inserted row: a CSV import of 20,000 contacts (each owned by
-- the importer) paid 40,000 calls of a SECURITY DEFINER plpgsql function — each one a
-- search_path switch and a plpgsql frame, ~4 µs — to learn that nothing was to be sent.
-- The same test reads the claim inline: `app.uid()` returns the `sub` of
-- `request.jwt.claims` or NULL when the setting is missing or empty, and so does this
-- expression (docs/ARCHITECTURE.md §14). The trigger function itself is unchanged.
DROP TRIGGER contacts_notify_owner ON app.contacts;
CREATE TRIGGER contacts_notify_owner AFTER INSERT OR UPDATE OF owner_id ON app.contacts
  FOR EACH ROW WHEN (
    NEW.owner_id IS NOT NULL
    AND (NULLIF(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub') IS NOT NULL
    AND NEW.owner_id IS DISTINCT FROM (NULLIF(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid
  )
  EXECUTE FUNCTION app.notify_owner_assigned();
