-- contacts_notify_owner's WHEN clause (0130) parsed the `request.jwt.claims` JSON twice for every
-- inserted row — once to learn that there is a `sub`, once to compare it with the owner. A CSV
-- import of 18,800 contacts, each owned by the importer, spent ~50 ms of the database's CPU on
-- those parses, and one of them was redundant: the INSERT is ~2.5% faster with this clause
-- (bench/README.md, "CSV import on a fast machine"). One parse gives the same answer: with no `sub` the
-- coalesce yields the owner itself, so NEW.owner_id is not distinct from it and nothing fires —
-- exactly as before; with a `sub`, the trigger fires when the owner is someone else
-- (docs/ARCHITECTURE.md §14). The trigger function is unchanged.
DROP TRIGGER contacts_notify_owner ON app.contacts;
CREATE TRIGGER contacts_notify_owner AFTER INSERT OR UPDATE OF owner_id ON app.contacts
  FOR EACH ROW WHEN (
    NEW.owner_id IS NOT NULL
    AND NEW.owner_id IS DISTINCT FROM
        coalesce((NULLIF(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid, NEW.owner_id)
  )
  EXECUTE FUNCTION app.notify_owner_assigned();
