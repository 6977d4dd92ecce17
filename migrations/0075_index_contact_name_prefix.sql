-- Contact search that answers from index order at a million contacts
-- (docs/ARCHITECTURE.md §11, Search).
--
-- Before, a search collected every match (LIKE '%q%' or trigram-similar) and ranked them
-- all before returning the first page: "smit" in a business of 1M contacts ranked ~80k
-- rows (≈1.1 s). Now the expected matches — exact and prefix matches on last name, first
-- name, email and phone — come first, each tier read in the order of a btree, so a page
-- costs its own rows, not the number of matches. Only when those tiers run out does the
-- bounded trigram tier (substring and typos, app.contact_search_ids) run.
--
-- The tiers are read THROUGH the policies, where only a LEAKPROOF condition can be an
-- index condition. `=`, `<`, `>` and `^@` (starts_with) on text are leakproof; lower()
-- is not, so the lower-cased names are stored columns the conditions can name directly.
-- They are COLLATE "C" so that `^@` (PostgreSQL 15+) and the keyset comparisons walk the
-- btree as byte ranges, whatever the database's collation. Email is already text
-- COLLATE "C" and lower-case (0008), phones are E.164 (digits after a '+'), so their
-- existing unique indexes serve their tiers.
ALTER TABLE app.contacts
  ADD COLUMN search_last text COLLATE "C" GENERATED ALWAYS AS (lower(last_name)) STORED,
  ADD COLUMN search_first text COLLATE "C" GENERATED ALWAYS AS (lower(first_name)) STORED;

-- Exact and prefix on the last name, in (last, first, id) order; the same for the first name.
CREATE INDEX contacts_search_last_idx ON app.contacts (business_id, search_last, search_first, id)
  WHERE deleted_at IS NULL;
CREATE INDEX contacts_search_first_idx ON app.contacts (business_id, search_first, search_last, id)
  WHERE deleted_at IS NULL;

-- The trigram tier: the ids of the contacts of p_business (live or trashed, the caller
-- filters) whose name contains p_name_like, whose email contains p_email_like, whose name
-- is trigram-similar to p_query, or whose phone digits contain p_digits_like (each NULL
-- when the query cannot be in that field), leaving out names and emails that start with
-- p_skip_prefix (the earlier tiers list those) — at most p_max of them, so a query that
-- matches a large share of the book costs a bounded amount. Same guard as 0007's
-- version: SECURITY DEFINER so the trigram indexes can be used, is_member() checked as
-- the caller, ids only; the caller reads the rows through the policies.
CREATE FUNCTION app.contact_search_ids(
  p_business uuid, p_name_like text, p_email_like text, p_query text, p_digits_like text, p_skip_prefix text,
  p_max integer
) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT c.id
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
   LIMIT p_max
$$;
REVOKE ALL ON FUNCTION app.contact_search_ids(uuid, text, text, text, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.contact_search_ids(uuid, text, text, text, text, text, integer) TO capto_authenticated;
DROP FUNCTION app.contact_search_ids(uuid, text, text, text);
