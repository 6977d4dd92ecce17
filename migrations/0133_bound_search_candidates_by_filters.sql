-- Search candidates that are the ones a page can show, and names stored composed
-- (docs/ARCHITECTURE.md §11, Search).
--
-- 1. app.contact_search_ids (0075) returned any p_max (1,000) contacts matching the text,
--    live or trashed, whatever the list's filters; the caller dropped those the page does
--    not show. A book whose trash (or other filtered-out rows) held more than 1,000 matches
--    could then rank none of the contacts asked for: 1,200 trashed "…@bigcorp.test" and
--    "bigcorp" found no live one. The function now takes the trash flag and the list's
--    equality filters (status, source, kinds, owner, list membership) and spends its cap on
--    contacts that pass them. They are conditions on the rows the trigram bitmap already
--    reads (the list: one probe of the (business_id, list_id, contact_id) key, or a hash of
--    the list's members), so the index use is unchanged. A selective filter reads more
--    matching rows before p_max pass it, so the rows read stay bounded by a second cap:
--    the first p_max × 20 text matches (20,000) — a filter that lets through fewer than
--    one match in twenty can still miss contacts (docs/ARCHITECTURE.md §11 says so). The
--    caller still applies every filter through the policies; custom-field and import-job
--    filters are only applied there.
-- 2. app.conversation_search_ids (0076) capped the messages at p_max and then took their
--    distinct conversations, so one thread with 250 messages containing "escrow" was the
--    whole answer. It now walks the matching messages (the same trigram bitmap, in heap
--    order), returns each conversation once and stops at p_max conversations — or after
--    p_max × 20 messages, so a word thousands of messages share still reads a bounded
--    number of rows (a common word reaches p_max conversations within a few hundred).
-- 3. Names are stored in Unicode NFC. A name saved decomposed (NFD, as macOS and phones
--    send "José": 'e' + U+0301) never equalled nor contained the composed text users
--    type. A BEFORE trigger composes first and last name on every write — the API,
--    imports, inbound SMS and automations alike — and only for a name that is not NFC
--    already (the WHEN clause, a quick check in C: an import of plain names never enters
--    the trigger's function). Existing decomposed names are composed below; the search
--    columns (0075) are generated from them.

DROP FUNCTION app.contact_search_ids(uuid, text, text, text, text, text, integer);
-- The ids of the contacts of p_business (trashed when p_deleted, else live; of status
-- p_status, source p_source, a kind in p_kinds, owner p_owner and in list p_list, each
-- when not NULL) whose name contains p_name_like, whose email contains p_email_like,
-- whose name is trigram-similar to p_query, or whose phone digits contain p_digits_like
-- (each NULL when the query cannot be in that field), leaving out names and emails that
-- start with p_skip_prefix (the earlier tiers list those) — at most p_max of them, from
-- the first p_max × 20 text matches. Same guard as 0007 and 0075: SECURITY DEFINER so
-- the trigram indexes can be used, is_member() checked as the caller, ids only; the
-- caller reads the rows through the policies.
CREATE FUNCTION app.contact_search_ids(
  p_business uuid, p_deleted boolean, p_status app.contact_status, p_source app.contact_source,
  p_kinds app.contact_kind[], p_owner uuid, p_list uuid,
  p_name_like text, p_email_like text, p_query text, p_digits_like text, p_skip_prefix text, p_max integer
) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT m.id
    FROM (SELECT c.id, c.deleted_at, c.status, c.source, c.kind, c.owner_id
            FROM app.contacts c
           WHERE c.business_id = p_business
             AND app.is_member(p_business)
             AND (lower(c.first_name || ' ' || c.last_name) LIKE p_name_like
                  OR c.email::text LIKE p_email_like
                  OR lower(c.first_name || ' ' || c.last_name) OPERATOR(extensions.%) p_query
                  OR regexp_replace(coalesce(c.phone, ''), '[^0-9]', '', 'g') LIKE p_digits_like)
             AND (p_skip_prefix IS NULL
                  OR NOT (lower(c.last_name) LIKE p_skip_prefix OR lower(c.first_name) LIKE p_skip_prefix
                          OR coalesce(c.email::text LIKE p_skip_prefix, false)))
           LIMIT p_max * 20) m
   WHERE (m.deleted_at IS NOT NULL) = p_deleted
     AND (p_status IS NULL OR m.status = p_status)
     AND (p_source IS NULL OR m.source = p_source)
     AND (p_kinds IS NULL OR m.kind = ANY (p_kinds))
     AND (p_owner IS NULL OR m.owner_id = p_owner)
     AND (p_list IS NULL OR EXISTS (SELECT 1 FROM app.list_members lm
                                     WHERE lm.business_id = p_business AND lm.list_id = p_list
                                       AND lm.contact_id = m.id))
   LIMIT p_max
$$;
REVOKE ALL ON FUNCTION app.contact_search_ids(
  uuid, boolean, app.contact_status, app.contact_source, app.contact_kind[], uuid, uuid,
  text, text, text, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.contact_search_ids(
  uuid, boolean, app.contact_status, app.contact_source, app.contact_kind[], uuid, uuid,
  text, text, text, text, text, integer) TO capto_authenticated;

-- Conversations with a message containing p_like (the trigram index on lower(body)), each
-- once, at most p_max of them, from at most p_max × 20 matching messages.
CREATE OR REPLACE FUNCTION app.conversation_search_ids(p_business uuid, p_like text, p_max integer)
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' ROWS 200 AS $$
DECLARE
  seen uuid[] := '{}';
  scanned integer := 0;
  v uuid;
BEGIN
  IF NOT app.is_member(p_business) THEN
    RETURN;
  END IF;
  FOR v IN SELECT m.conversation_id FROM app.messages m
            WHERE m.business_id = p_business AND lower(m.body) LIKE p_like LOOP
    IF NOT v = ANY (seen) THEN
      seen := seen || v;
      RETURN NEXT v;
      EXIT WHEN cardinality(seen) >= p_max;
    END IF;
    scanned := scanned + 1;
    EXIT WHEN scanned >= p_max * 20;
  END LOOP;
END $$;

-- Names composed (NFC) on every write, when they are not already.
CREATE FUNCTION app.contacts_compose_names() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  NEW.first_name := normalize(NEW.first_name, NFC);
  NEW.last_name := normalize(NEW.last_name, NFC);
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.contacts_compose_names() FROM PUBLIC;
CREATE TRIGGER contacts_compose_names BEFORE INSERT OR UPDATE OF first_name, last_name ON app.contacts
  FOR EACH ROW WHEN (NEW.first_name IS NOT NFC NORMALIZED OR NEW.last_name IS NOT NFC NORMALIZED)
  EXECUTE FUNCTION app.contacts_compose_names();

-- The names already stored decomposed, composed; only those rows are written. Composing
-- is not an edit: updated_at (the "recently updated" order) stays as it was.
ALTER TABLE app.contacts DISABLE TRIGGER contacts_touch_updated_at;
UPDATE app.contacts
   SET first_name = normalize(first_name, NFC), last_name = normalize(last_name, NFC)
 WHERE first_name IS NOT NFC NORMALIZED OR last_name IS NOT NFC NORMALIZED;
ALTER TABLE app.contacts ENABLE TRIGGER contacts_touch_updated_at;
