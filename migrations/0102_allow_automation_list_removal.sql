-- The automation step "remove from list" (docs/ARCHITECTURE.md §25) runs as capto_service,
-- which could add list members but not remove them. Only that one row-level delete is added.
GRANT DELETE ON app.list_members TO capto_service;
CREATE POLICY list_members_delete_service ON app.list_members FOR DELETE TO capto_service USING (true);
