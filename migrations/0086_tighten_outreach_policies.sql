-- Two scan warnings of 0083/0084, fixed without changing who may do what
-- (docs/ARCHITECTURE.md §21):
-- 1. app.campaigns had three permissive UPDATE policies for capto_authenticated, all
--    evaluated and OR-ed on every row; they become one policy with the same three cases
--    (owners/admins: any change the state machine allows; members: their own drafts, kept
--    drafts; members: pause a scheduled or sending campaign).
-- 2. app.contact_emails' INSERT policy called app.is_demo_business once per row; the
--    demo refusal moves to a BEFORE INSERT trigger, as invitations do (0003), and the
--    policy keeps only scope, author and state.
DROP POLICY campaigns_update_admin ON app.campaigns;
DROP POLICY campaigns_update_own_draft ON app.campaigns;
DROP POLICY campaigns_update_pause ON app.campaigns;
CREATE POLICY campaigns_update_member ON app.campaigns FOR UPDATE TO capto_authenticated
  USING (
    business_id = ANY (array(select app.business_ids_with_role('admin')))
    OR (business_id = ANY (array(select app.member_business_ids())) AND created_by = (select app.uid())
        AND status = 'draft')
    OR (business_id = ANY (array(select app.member_business_ids())) AND status IN ('scheduled', 'sending')))
  WITH CHECK (
    business_id = ANY (array(select app.business_ids_with_role('admin')))
    OR (business_id = ANY (array(select app.member_business_ids())) AND created_by = (select app.uid())
        AND status = 'draft')
    OR (business_id = ANY (array(select app.member_business_ids())) AND status = 'paused'));

DROP POLICY contact_emails_insert_member ON app.contact_emails;
CREATE POLICY contact_emails_insert_member ON app.contact_emails FOR INSERT TO capto_authenticated
  WITH CHECK (business_id = ANY (array(select app.member_business_ids())) AND sent_by = (select app.uid())
              AND status = 'queued');
CREATE FUNCTION app.contact_emails_refuse_demo() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF app.is_demo_business(NEW.business_id) THEN
    RAISE EXCEPTION 'demo workspaces cannot send email' USING ERRCODE = 'P0001', HINT = 'demo_restricted';
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.contact_emails_refuse_demo() FROM PUBLIC;
CREATE TRIGGER contact_emails_refuse_demo BEFORE INSERT ON app.contact_emails
  FOR EACH ROW EXECUTE FUNCTION app.contact_emails_refuse_demo();
