-- The dashboard's pipeline and funded-volume queries (docs/ARCHITECTURE.md §Dashboard):
-- per stage, count and sum of amounts; funded deals by month. A covering index led by
-- the policy column lets both run as index-only scans over one business's deals
-- (100k deals: ~100k index tuples, no heap visits once the visibility map is set)
-- instead of reading the deals themselves.
CREATE INDEX deals_business_stage_amount_idx ON app.deals (business_id, stage) INCLUDE (amount_cents, funded_on);
-- Conversations with unread texts: a small partial index instead of a walk over all.
CREATE INDEX conversations_business_unread_idx ON app.conversations (business_id) WHERE unread_count > 0;
