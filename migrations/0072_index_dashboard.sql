-- Conversations with unread texts, for the dashboard (docs/ARCHITECTURE.md §12.2): a small
-- partial index instead of a walk over every conversation of the business.
CREATE INDEX conversations_business_unread_idx ON app.conversations (business_id) WHERE unread_count > 0;
