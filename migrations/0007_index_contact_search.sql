-- Contact search that stays index-driven under RLS (issue 9 bench: search at 1M
-- contacts, RLS vs bypass ≤ 1.20).
--
-- Under RLS the planner may use a user's condition as an index condition only when its
-- operator is LEAKPROOF (a leaky operator could otherwise see rows the policy hides).
-- LIKE and pg_trgm's % are not, so a search through the policies could not use the
-- trigram indexes at all: it read every contact of the business and filtered — fine for
-- a small book, slow for a large one. And the trigram indexes, not led by business_id,
-- matched "smit" across every business before the business filter applied.
--
-- 1. The trigram indexes are led by business_id (btree_gin), so a search reads only the
--    matches of one business.
-- 2. app.contact_search_ids() finds the matching ids with those indexes. It is SECURITY
--    DEFINER (the policies' leakproofness rule would again forbid the indexes) and
--    answers only a member of the business: app.is_member() is checked inside, as the
--    caller (the claims are the caller's). It returns ids only; the caller's query
--    then reads the contacts THROUGH the policies, so even a bug here could not show a
--    row of another business.

CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA extensions;

DROP INDEX app.contacts_name_trgm_idx;
DROP INDEX app.contacts_email_trgm_idx;
DROP INDEX app.contacts_phone_trgm_idx;
-- The expressions must match src/crm/contact-list.ts and the function below.
CREATE INDEX contacts_name_trgm_idx ON app.contacts
  USING gin (business_id, (lower(first_name || ' ' || last_name)) extensions.gin_trgm_ops);
CREATE INDEX contacts_email_trgm_idx ON app.contacts
  USING gin (business_id, (email::text) extensions.gin_trgm_ops);
CREATE INDEX contacts_phone_trgm_idx ON app.contacts
  USING gin (business_id, (regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g')) extensions.gin_trgm_ops);

-- Ids of the contacts of p_business (live or in the trash: the caller filters) whose
-- name or email is LIKE p_like, whose name is trigram-similar to p_query, or whose
-- phone digits are LIKE p_digits_like (NULL: not a phone search).
CREATE FUNCTION app.contact_search_ids(p_business uuid, p_like text, p_query text, p_digits_like text)
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT c.id
    FROM app.contacts c
   WHERE c.business_id = p_business
     AND app.is_member(p_business)
     AND (lower(c.first_name || ' ' || c.last_name) LIKE p_like
          OR c.email::text LIKE p_like
          OR lower(c.first_name || ' ' || c.last_name) OPERATOR(extensions.%) p_query
          OR (p_digits_like IS NOT NULL
              AND regexp_replace(coalesce(c.phone, ''), '[^0-9]', '', 'g') LIKE p_digits_like))
$$;
REVOKE ALL ON FUNCTION app.contact_search_ids(uuid, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.contact_search_ids(uuid, text, text, text) TO capto_authenticated;
