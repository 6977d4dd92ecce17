-- Loan files (docs/ARCHITECTURE.md §CRM "Loan files"): a deal is a loan for a borrower
-- (contact_id, since 0004), with a co-borrower, a referral partner, the property, the
-- rate, the purpose and the dates of its milestones. Contacts get a kind so that a
-- realtor or another referral partner can be told apart from a borrower or lead.
--
-- No new table: the new columns live on app.deals and app.contacts, whose RLS (ENABLED +
-- FORCED) and policies of 0004 keep covering them. UPDATE is granted per column as
-- before (never business_id). The people of a loan file reference contacts through
-- composite foreign keys (business_id, x) → contacts (business_id, id), so a deal can
-- never name another business's contact; a purged contact leaves the deal without that
-- person (SET NULL of that column only), like contact_id.

CREATE TYPE app.contact_kind AS ENUM ('person', 'realtor', 'partner');
ALTER TABLE app.contacts ADD COLUMN kind app.contact_kind NOT NULL DEFAULT 'person';
-- Contacts already filed as referral partners by status become partners by kind.
UPDATE app.contacts SET kind = 'partner' WHERE status = 'referral_partner';
GRANT UPDATE (kind) ON app.contacts TO capto_authenticated;

CREATE TYPE app.loan_purpose AS ENUM ('purchase', 'refinance', 'cash_out');

ALTER TABLE app.deals
  ADD COLUMN co_borrower_id uuid,
  ADD COLUMN partner_id uuid,
  ADD COLUMN property_address text NOT NULL DEFAULT '' CHECK (length(property_address) <= 300),
  -- Percent with three decimals (6.875); NULL until quoted.
  ADD COLUMN rate_percent numeric(6, 3) CHECK (rate_percent >= 0 AND rate_percent < 100),
  ADD COLUMN loan_purpose app.loan_purpose,
  -- Milestones: the day each one happened (NULL = not yet).
  ADD COLUMN application_on date,
  ADD COLUMN disclosures_on date,
  ADD COLUMN appraisal_ordered_on date,
  ADD COLUMN appraisal_received_on date,
  ADD COLUMN conditional_approval_on date,
  ADD COLUMN clear_to_close_on date,
  ADD COLUMN funded_on date,
  ADD CONSTRAINT deals_co_borrower_not_borrower CHECK (co_borrower_id <> contact_id),
  ADD CONSTRAINT deals_business_id_co_borrower_id_fkey
    FOREIGN KEY (business_id, co_borrower_id) REFERENCES app.contacts (business_id, id) ON DELETE SET NULL (co_borrower_id),
  ADD CONSTRAINT deals_business_id_partner_id_fkey
    FOREIGN KEY (business_id, partner_id) REFERENCES app.contacts (business_id, id) ON DELETE SET NULL (partner_id);

-- The contact page lists the deals a contact is part of in any role, and a contact's
-- purge must find its deals without scanning the business's pipeline. Partial: most
-- deals have no co-borrower or partner.
CREATE INDEX deals_business_co_borrower_idx ON app.deals (business_id, co_borrower_id) WHERE co_borrower_id IS NOT NULL;
CREATE INDEX deals_business_partner_idx ON app.deals (business_id, partner_id) WHERE partner_id IS NOT NULL;

GRANT UPDATE (
  co_borrower_id, partner_id, property_address, rate_percent, loan_purpose,
  application_on, disclosures_on, appraisal_ordered_on, appraisal_received_on,
  conditional_approval_on, clear_to_close_on, funded_on
) ON app.deals TO capto_authenticated;
