-- AI assistance with the business's own model provider (docs/ARCHITECTURE.md "AI").
--
-- Who may do what, in the database:
--   * app.ai_providers: members read which provider/model is configured (never the key,
--     which lives in vault.secrets); only capto_service writes, and only with an audit
--     row of the same transaction by an owner/admin (audit.require_integration_event,
--     0005) — exactly like Twilio configurations.
--   * app.businesses gains the AI switch, the "about us / FAQ" text and the monthly
--     token budget: members read, owners/admins write (0001's UPDATE policy).
--   * app.ai_calls: one row per model call, never its content. Written by capto_service
--     (admission under a per-business lock, then the outcome); owners/admins read the
--     business's rows, members their own.
--   * app.ai_summaries, app.ai_drafts: written by members in their own name; drafts are
--     decided (approved/discarded) once, by the member who decides.
--   * app.message_intents: one label per inbound text, written by capto_service (the
--     classification job); members read.

-- ---------------------------------------------------------------------------
-- Closed sets of 0005 gain the AI values. The current lists are read from the
-- catalog and extended, so a migration of another module that extended the same
-- CHECK earlier keeps its values.
-- ---------------------------------------------------------------------------
DO $$
DECLARE
  target record;
  con record;
  vals text[];
BEGIN
  FOR target IN
    SELECT * FROM (VALUES
      ('vault.secrets'::regclass, 'kind', ARRAY['ai.api_key']),
      ('audit.integration_events'::regclass, 'action', ARRAY['ai.provider.set', 'ai.provider.removed'])
    ) AS t (rel, col, extra)
  LOOP
    SELECT c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS def INTO con
      FROM pg_catalog.pg_constraint c
     WHERE c.conrelid = target.rel AND c.contype = 'c'
       AND pg_catalog.pg_get_constraintdef(c.oid) ~ ('\m' || target.col || '\M = ANY \(');
    IF con IS NULL THEN
      RAISE EXCEPTION 'no IN-list CHECK on %.%', target.rel, target.col;
    END IF;
    SELECT array_agg(DISTINCT v ORDER BY v) INTO vals FROM (
      SELECT m[1] AS v FROM regexp_matches(con.def, '''([^'']+)''', 'g') AS m
      UNION SELECT unnest(target.extra)
    ) s;
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', target.rel, con.conname);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IN (%s))',
      target.rel, con.conname, target.col, (SELECT string_agg(quote_literal(v), ', ') FROM unnest(vals) v));
  END LOOP;
END $$;

-- ---------------------------------------------------------------------------
-- app.ai_providers: one per business. The key is in vault.secrets (kind ai.api_key).
-- base_url only for openai_compatible; the openai provider's base is operator config.
-- ---------------------------------------------------------------------------
CREATE TABLE app.ai_providers (
  id uuid PRIMARY KEY,
  business_id uuid NOT NULL UNIQUE REFERENCES app.businesses (id) ON DELETE CASCADE,
  provider text NOT NULL CHECK (provider IN ('openai', 'openai_compatible')),
  model text NOT NULL CHECK (length(btrim(model)) BETWEEN 1 AND 200),
  base_url text CHECK (length(base_url) BETWEEN 8 AND 500 AND base_url ~ '^https?://'),
  secret_id uuid NOT NULL UNIQUE REFERENCES vault.secrets (id),
  configured_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  configured_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((provider = 'openai_compatible') = (base_url IS NOT NULL))
);
CREATE INDEX ai_providers_configured_by_idx ON app.ai_providers (configured_by);
ALTER TABLE app.ai_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.ai_providers FORCE ROW LEVEL SECURITY;
GRANT SELECT (id, business_id, provider, model, base_url, configured_by, configured_at)
  ON app.ai_providers TO capto_authenticated;
CREATE POLICY ai_providers_select_member ON app.ai_providers FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
GRANT SELECT, INSERT, DELETE ON app.ai_providers TO capto_service;
GRANT UPDATE (provider, model, base_url, secret_id, configured_by, configured_at) ON app.ai_providers TO capto_service;
CREATE POLICY ai_providers_all_service ON app.ai_providers FOR ALL TO capto_service USING (true) WITH CHECK (true);

CREATE TRIGGER ai_providers_audited_insert AFTER INSERT ON app.ai_providers
  FOR EACH ROW EXECUTE FUNCTION audit.require_integration_event('ai.provider.set', 'subject');
CREATE TRIGGER ai_providers_audited_update AFTER UPDATE ON app.ai_providers
  FOR EACH ROW EXECUTE FUNCTION audit.require_integration_event('ai.provider.set', 'subject');
CREATE TRIGGER ai_providers_audited_delete AFTER DELETE ON app.ai_providers
  FOR EACH ROW EXECUTE FUNCTION audit.require_integration_event('ai.provider.removed', 'subject');

-- ---------------------------------------------------------------------------
-- The business's AI settings live on app.businesses, whose UPDATE policy already
-- admits owners and admins only (0001): the switch, the "about us / FAQ" text the
-- model may use, and the monthly token budget.
-- ---------------------------------------------------------------------------
ALTER TABLE app.businesses
  ADD COLUMN ai_enabled boolean NOT NULL DEFAULT true,
  ADD COLUMN ai_about text NOT NULL DEFAULT '' CHECK (length(ai_about) <= 4000),
  ADD COLUMN ai_monthly_token_budget bigint NOT NULL DEFAULT 1000000
    CHECK (ai_monthly_token_budget BETWEEN 0 AND 10000000000);
GRANT UPDATE (ai_enabled, ai_about, ai_monthly_token_budget) ON app.businesses TO capto_authenticated;

-- ---------------------------------------------------------------------------
-- app.ai_calls: every model call, never its content (no prompt, no output).
-- A row is admitted 'pending' with its token reservation under the business's
-- advisory lock (src/ai/calls.ts), then finished with the provider's usage.
-- ---------------------------------------------------------------------------
CREATE TABLE app.ai_calls (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  user_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  feature text NOT NULL CHECK (feature IN ('suggest_reply', 'summary', 'intent', 'draft', 'verify')),
  model text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
  reserved_tokens integer NOT NULL DEFAULT 0 CHECK (reserved_tokens >= 0),
  tokens_in integer NOT NULL DEFAULT 0 CHECK (tokens_in >= 0),
  tokens_out integer NOT NULL DEFAULT 0 CHECK (tokens_out >= 0),
  latency_ms integer CHECK (latency_ms >= 0),
  outcome text NOT NULL DEFAULT 'pending' CHECK (outcome IN (
    'pending', 'ok', 'provider_error', 'provider_auth_failed', 'provider_rate_limited', 'timeout', 'unreachable', 'aborted'
  )),
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX ai_calls_business_started_idx ON app.ai_calls (business_id, started_at);
CREATE INDEX ai_calls_business_user_started_idx ON app.ai_calls (business_id, user_id, started_at);
CREATE INDEX ai_calls_pending_idx ON app.ai_calls (business_id) WHERE outcome = 'pending';
CREATE INDEX ai_calls_user_idx ON app.ai_calls (user_id);
ALTER TABLE app.ai_calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.ai_calls FORCE ROW LEVEL SECURITY;
GRANT SELECT ON app.ai_calls TO capto_authenticated;
CREATE POLICY ai_calls_select_own_or_admin ON app.ai_calls FOR SELECT TO capto_authenticated
  USING (
    business_id IN (SELECT app.member_business_ids())
    AND (user_id = (select app.uid()) OR business_id IN (SELECT app.business_ids_with_role('admin')))
  );
GRANT SELECT, INSERT ON app.ai_calls TO capto_service;
GRANT UPDATE (tokens_in, tokens_out, latency_ms, outcome, finished_at) ON app.ai_calls TO capto_service;
CREATE POLICY ai_calls_all_service ON app.ai_calls FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- app.ai_summaries: a contact's summary, dated, kept (the newest is shown).
-- ---------------------------------------------------------------------------
CREATE TABLE app.ai_summaries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL,
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
  flags jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(flags) = 'array'),
  model text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (business_id, contact_id) REFERENCES app.contacts (business_id, id) ON DELETE CASCADE
);
CREATE INDEX ai_summaries_contact_idx ON app.ai_summaries (business_id, contact_id, created_at);
CREATE INDEX ai_summaries_created_by_idx ON app.ai_summaries (created_by);
ALTER TABLE app.ai_summaries ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.ai_summaries FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON app.ai_summaries TO capto_authenticated;
CREATE POLICY ai_summaries_select_member ON app.ai_summaries FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY ai_summaries_insert_member ON app.ai_summaries FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()) AND created_by = (select app.uid()));
GRANT SELECT ON app.ai_summaries TO capto_service;
CREATE POLICY ai_summaries_select_service ON app.ai_summaries FOR SELECT TO capto_service USING (true);

-- ---------------------------------------------------------------------------
-- app.ai_drafts: the review queue. A draft is never sent by itself: approving it is a
-- person pressing Send (src/ai/drafts.ts). origin 'automation' rows come from the
-- automation step through capto_service.
-- ---------------------------------------------------------------------------
CREATE TABLE app.ai_drafts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  conversation_id uuid NOT NULL,
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 1600),
  flags jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(flags) = 'array'),
  origin text NOT NULL DEFAULT 'manual' CHECK (origin IN ('manual', 'automation')),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'approved', 'discarded')),
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  decided_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  decided_at timestamptz,
  sent_message_id uuid,
  FOREIGN KEY (business_id, conversation_id) REFERENCES app.conversations (business_id, id) ON DELETE CASCADE,
  FOREIGN KEY (business_id, sent_message_id) REFERENCES app.messages (business_id, id) ON DELETE SET NULL (sent_message_id),
  CHECK ((status IN ('pending')) = (decided_at IS NULL))
);
CREATE INDEX ai_drafts_business_status_idx ON app.ai_drafts (business_id, status, created_at, id);
CREATE INDEX ai_drafts_conversation_idx ON app.ai_drafts (business_id, conversation_id);
CREATE INDEX ai_drafts_sent_message_idx ON app.ai_drafts (business_id, sent_message_id);
CREATE INDEX ai_drafts_created_by_idx ON app.ai_drafts (created_by);
CREATE INDEX ai_drafts_decided_by_idx ON app.ai_drafts (decided_by);
ALTER TABLE app.ai_drafts ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.ai_drafts FORCE ROW LEVEL SECURITY;
GRANT SELECT ON app.ai_drafts TO capto_authenticated;
GRANT INSERT (id, business_id, conversation_id, body, flags, created_by) ON app.ai_drafts TO capto_authenticated;
GRANT UPDATE (body, status, decided_by, decided_at, sent_message_id) ON app.ai_drafts TO capto_authenticated;
CREATE POLICY ai_drafts_select_member ON app.ai_drafts FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY ai_drafts_insert_member ON app.ai_drafts FOR INSERT TO capto_authenticated
  WITH CHECK (business_id IN (SELECT app.member_business_ids()) AND created_by = (select app.uid()));
-- Only an undecided draft (or one this member is sending) changes, and only in her name.
CREATE POLICY ai_drafts_update_member ON app.ai_drafts FOR UPDATE TO capto_authenticated
  USING (
    business_id IN (SELECT app.member_business_ids())
    AND (status = 'pending' OR (status = 'sending' AND decided_by = (select app.uid())))
  )
  WITH CHECK (business_id IN (SELECT app.member_business_ids()) AND decided_by = (select app.uid()));
GRANT SELECT, INSERT ON app.ai_drafts TO capto_service;
GRANT UPDATE (status, decided_by, decided_at) ON app.ai_drafts TO capto_service;
CREATE POLICY ai_drafts_all_service ON app.ai_drafts FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- app.message_intents: one label per inbound text, by the classification job. It is a
-- label only: nothing reads it to change consent (only STOP does, src/messaging).
-- ---------------------------------------------------------------------------
CREATE TABLE app.message_intents (
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  message_id uuid NOT NULL,
  intent text NOT NULL CHECK (intent IN (
    'wants_to_apply', 'question', 'document_sent', 'schedule_call', 'not_interested', 'wrong_number', 'other'
  )),
  model text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, message_id),
  FOREIGN KEY (business_id, message_id) REFERENCES app.messages (business_id, id) ON DELETE CASCADE
);
CREATE INDEX message_intents_business_intent_idx ON app.message_intents (business_id, intent, created_at);
ALTER TABLE app.message_intents ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.message_intents FORCE ROW LEVEL SECURITY;
GRANT SELECT ON app.message_intents TO capto_authenticated;
CREATE POLICY message_intents_select_member ON app.message_intents FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
GRANT SELECT, INSERT ON app.message_intents TO capto_service;
CREATE POLICY message_intents_all_service ON app.message_intents FOR ALL TO capto_service USING (true) WITH CHECK (true);
