-- A lighter write path for contacts (issue 9 bench: CSV import ≥ 20,000 rows/s).
-- Profiling one 1000-row import batch (perf on the backend) showed where PostgreSQL
-- spent its time besides the index inserts themselves:
--
-- 1. contacts.email was citext. Every comparison in the unique (business_id, email)
--    index lowercased both sides (towlower through wide characters: ~10% of the
--    batch). The column already held lower-case values only (its CHECK), and the
--    application lowercases every email it stores or looks up (normaliseEmail), so the
--    case-insensitive type bought nothing. It is now text COLLATE "C": equality and
--    uniqueness are byte comparisons, which is what an address needs. The CHECK keeps
--    refusing upper-case letters, lowercased under the database's own collation as
--    before. Callers compare with a plain `=` against a lower-case value.
-- 2. contact_events.business_id → businesses was a second foreign-key check per event
--    that proved nothing: (business_id, contact_id) → contacts already pins the event to
--    a contact of that business, which in turn references the business, and the delete
--    cascades through the contact. One row-level check per event fewer.
--
-- 3. An import wrote one contact_events row per created contact ('imported'): a heap
--    tuple, three index entries and two foreign-key checks per contact, ~25% of the
--    batch. The contact now records the job that created it (import_job_id, set only by
--    the import runner; not updatable through the column grants) and the timeline derives
--    that entry from it: same kind, time (the contact's created_at), actor (the job's
--    creator, as far as the reader may see the job) and data. Contacts an import UPDATES
--    still get a stored event, as do contacts imported before this migration.
--
-- 4. contacts had two unique indexes on its identity: the primary key (id) and
--    UNIQUE (business_id, id), the target of every foreign key. Every query names the
--    business (routes are business-scoped; the composite keys make every join do so),
--    so (business_id, id) becomes the primary key and the id-only index goes: one
--    random-UUID btree insert fewer per contact (~7% of an import batch). The seven
--    foreign keys that pointed at the unique constraint are re-created, unchanged, on
--    the primary key.
--
-- All of this keeps every guarantee: a duplicate email in a business is still refused
-- by the unique index, and no event can name a business other than its contact's.

ALTER TABLE app.contact_events DROP CONSTRAINT contact_events_business_id_fkey;

ALTER TABLE app.contacts DROP CONSTRAINT contacts_email_check;
ALTER TABLE app.contacts ALTER COLUMN email TYPE text COLLATE "C";
ALTER TABLE app.contacts ADD CONSTRAINT contacts_email_check CHECK (
  length(email) BETWEEN 3 AND 254 AND email = lower(email COLLATE "default") AND position('@' IN email) > 1
);

-- No foreign key, like the job_id an 'imported' event carried in its details: a pointer
-- for the timeline, not a dependency (and no per-row check on the hot path).
ALTER TABLE app.contacts ADD COLUMN import_job_id uuid;

-- (4) The primary key becomes (business_id, id).
ALTER TABLE app.deals DROP CONSTRAINT deals_business_id_contact_id_fkey;
ALTER TABLE app.sms_opt_outs DROP CONSTRAINT sms_opt_outs_business_id_contact_id_fkey;
ALTER TABLE app.list_members DROP CONSTRAINT list_members_business_id_contact_id_fkey;
ALTER TABLE app.conversations DROP CONSTRAINT conversations_business_id_contact_id_fkey;
ALTER TABLE app.notes DROP CONSTRAINT notes_business_id_contact_id_fkey;
ALTER TABLE app.tasks DROP CONSTRAINT tasks_business_id_contact_id_fkey;
ALTER TABLE app.contact_events DROP CONSTRAINT contact_events_business_id_contact_id_fkey;
ALTER TABLE app.contacts DROP CONSTRAINT contacts_pkey, DROP CONSTRAINT contacts_business_id_id_key;
ALTER TABLE app.contacts ADD CONSTRAINT contacts_pkey PRIMARY KEY (business_id, id);
ALTER TABLE app.deals ADD CONSTRAINT deals_business_id_contact_id_fkey
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE SET NULL (contact_id);
ALTER TABLE app.sms_opt_outs ADD CONSTRAINT sms_opt_outs_business_id_contact_id_fkey
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE;
ALTER TABLE app.list_members ADD CONSTRAINT list_members_business_id_contact_id_fkey
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE;
ALTER TABLE app.conversations ADD CONSTRAINT conversations_business_id_contact_id_fkey
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE;
ALTER TABLE app.notes ADD CONSTRAINT notes_business_id_contact_id_fkey
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE;
ALTER TABLE app.tasks ADD CONSTRAINT tasks_business_id_contact_id_fkey
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE;
ALTER TABLE app.contact_events ADD CONSTRAINT contact_events_business_id_contact_id_fkey
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE;
