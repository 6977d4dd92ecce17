-- The global search's deals and conversations at a million contacts (docs/ARCHITECTURE.md
-- §11, Search). Through the policies neither LIKE nor pg_trgm's operators may be index
-- conditions (they are not LEAKPROOF), so the search read every deal of the business and
-- joined every contact to the conversations (2.4 s at 1M contacts). Now deals and
-- conversations are those of the best-matching contacts (the contact search, by the
-- (business_id, contact_id) indexes) and those whose title or messages contain the
-- query. As for contacts (0007, 0075), the text candidates come from SECURITY DEFINER
-- functions that may use the trigram indexes, check is_member() as the caller, return
-- ids only and at most p_max of them; the caller reads and ranks the rows through the
-- policies.

-- Deals whose title contains p_like (the trigram index on lower(title)).
CREATE FUNCTION app.deal_search_ids(p_business uuid, p_like text, p_max integer)
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' ROWS 200 AS $$
  SELECT d.id
    FROM app.deals d
   WHERE d.business_id = p_business
     AND app.is_member(p_business)
     AND lower(d.title) LIKE p_like
   LIMIT p_max
$$;
REVOKE ALL ON FUNCTION app.deal_search_ids(uuid, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.deal_search_ids(uuid, text, integer) TO capto_authenticated;

-- Conversations with a message containing p_like (the trigram index on lower(body)).
CREATE FUNCTION app.conversation_search_ids(p_business uuid, p_like text, p_max integer)
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' ROWS 200 AS $$
  SELECT DISTINCT m.conversation_id
    FROM (SELECT m.conversation_id
            FROM app.messages m
           WHERE m.business_id = p_business AND app.is_member(p_business) AND lower(m.body) LIKE p_like
           LIMIT p_max) m
$$;
REVOKE ALL ON FUNCTION app.conversation_search_ids(uuid, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.conversation_search_ids(uuid, text, integer) TO capto_authenticated;
