-- Email senders per business (docs/ARCHITECTURE.md "Email senders"): an SMTP relay
-- (password sealed in vault.secrets) or the business's connected Gmail account.
--
-- Who may do what, in the database (as for Twilio configurations, 0005):
--   * members read the list (no secret reference);
--   * only capto_service writes, and the audit triggers of 0005
--     (audit.require_integration_event) refuse an add, remove, default change or
--     update that has no audit row of the same transaction by an owner or admin.

-- ---------------------------------------------------------------------------
-- Closed sets of 0005 gain the email values. The current lists are read from the
-- catalog and extended (another module's migration may have extended them too), and
-- written back in the ARRAY['…'::text, …] form PostgreSQL itself prints for IN lists.
-- ---------------------------------------------------------------------------
DO $$
DECLARE
  target record;
  con record;
  vals text[];
BEGIN
  FOR target IN
    SELECT * FROM (VALUES
      ('vault.secrets'::regclass, 'kind', ARRAY['smtp.password']),
      ('audit.integration_events'::regclass, 'action',
        ARRAY['email.sender.added', 'email.sender.removed', 'email.sender.default_set', 'email.sender.updated'])
    ) AS t (rel, col, extra)
  LOOP
    SELECT c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS def INTO con
      FROM pg_catalog.pg_constraint c
     WHERE c.conrelid = target.rel AND c.contype = 'c'
       AND pg_catalog.pg_get_constraintdef(c.oid) ~ ('\m' || target.col || '\M = ANY \(');
    IF con IS NULL THEN
      RAISE EXCEPTION 'no IN-list CHECK on %.%', target.rel, target.col;
    END IF;
    -- Values as 'a'::text items, or inside one '{a,b}' array literal.
    SELECT array_agg(DISTINCT v ORDER BY v) INTO vals FROM (
      SELECT btrim(x) AS v
        FROM regexp_matches(con.def, '''([^'']+)''', 'g') AS m,
             LATERAL unnest(CASE WHEN m[1] LIKE '{%}' THEN string_to_array(btrim(m[1], '{}'), ',') ELSE ARRAY[m[1]] END) AS x
      UNION SELECT unnest(target.extra)
    ) s;
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', target.rel, con.conname);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I = ANY (ARRAY[%s]))',
      target.rel, con.conname, target.col,
      (SELECT string_agg(quote_literal(v) || '::text', ', ' ORDER BY v) FROM unnest(vals) AS v));
  END LOOP;
END $$;

-- ---------------------------------------------------------------------------
-- app.email_senders
-- ---------------------------------------------------------------------------
CREATE TABLE app.email_senders (
  id uuid PRIMARY KEY,
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('smtp', 'gmail')),
  from_name text NOT NULL CHECK (length(btrim(from_name)) BETWEEN 1 AND 100 AND from_name !~ '[\r\n]'),
  -- SMTP: the address entered; Gmail: the connected Google account's address at creation.
  from_email text NOT NULL CHECK (length(from_email) BETWEEN 3 AND 254 AND from_email ~ '^[^@\s]+@[^@\s]+$'),
  host text CHECK (length(host) BETWEEN 1 AND 253),
  port integer CHECK (port BETWEEN 1 AND 65535),
  security text CHECK (security IN ('tls', 'starttls', 'none')),
  username text CHECK (length(username) BETWEEN 1 AND 254),
  secret_id uuid UNIQUE REFERENCES vault.secrets (id),
  -- Campaign throughput cap (messages per second) for this sender.
  rate_per_second integer NOT NULL DEFAULT 5 CHECK (rate_per_second BETWEEN 1 AND 1000),
  is_default boolean NOT NULL DEFAULT false,
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id),
  CHECK (
    (kind = 'smtp' AND host IS NOT NULL AND port IS NOT NULL AND security IS NOT NULL
       AND username IS NOT NULL AND secret_id IS NOT NULL)
    OR (kind = 'gmail' AND host IS NULL AND port IS NULL AND security IS NULL
       AND username IS NULL AND secret_id IS NULL)
  )
);
CREATE UNIQUE INDEX email_senders_one_default ON app.email_senders (business_id) WHERE is_default;
CREATE INDEX email_senders_business_idx ON app.email_senders (business_id, created_at);
CREATE INDEX email_senders_created_by_idx ON app.email_senders (created_by);
ALTER TABLE app.email_senders ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.email_senders FORCE ROW LEVEL SECURITY;

GRANT SELECT (id, business_id, kind, from_name, from_email, host, port, security, username, rate_per_second,
              is_default, created_by, created_at, updated_at)
  ON app.email_senders TO capto_authenticated;
CREATE POLICY email_senders_select_member ON app.email_senders FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
GRANT SELECT, INSERT, DELETE ON app.email_senders TO capto_service;
GRANT UPDATE (from_name, from_email, host, port, security, username, secret_id, rate_per_second, is_default, updated_at)
  ON app.email_senders TO capto_service;
CREATE POLICY email_senders_all_service ON app.email_senders FOR ALL TO capto_service USING (true) WITH CHECK (true);

CREATE TRIGGER email_senders_audited_insert AFTER INSERT ON app.email_senders
  FOR EACH ROW EXECUTE FUNCTION audit.require_integration_event('email.sender.added', 'subject');
CREATE TRIGGER email_senders_audited_delete AFTER DELETE ON app.email_senders
  FOR EACH ROW EXECUTE FUNCTION audit.require_integration_event('email.sender.removed', 'subject');
CREATE TRIGGER email_senders_audited_default AFTER UPDATE OF is_default ON app.email_senders
  FOR EACH ROW WHEN (OLD.is_default IS DISTINCT FROM NEW.is_default)
  EXECUTE FUNCTION audit.require_integration_event('email.sender.default_set', 'business');
CREATE TRIGGER email_senders_audited_update
  AFTER UPDATE OF from_name, from_email, host, port, security, username, secret_id, rate_per_second ON app.email_senders
  FOR EACH ROW WHEN (
    (OLD.from_name, OLD.from_email, OLD.host, OLD.port, OLD.security, OLD.username, OLD.secret_id, OLD.rate_per_second)
    IS DISTINCT FROM
    (NEW.from_name, NEW.from_email, NEW.host, NEW.port, NEW.security, NEW.username, NEW.secret_id, NEW.rate_per_second))
  EXECUTE FUNCTION audit.require_integration_event('email.sender.updated', 'subject');
