-- Integrations (issue 5): the secrets vault (per-business data keys), the immutable
-- integration audit log, Twilio configurations and the Google connection.
--
-- Who may do what, in the database (P4, P5, P6):
--   * vault.*: capto_service only. capto_authenticated / capto_anon have no USAGE on
--     the schema (0002), so no policy mistake here can expose a token to a request.
--   * audit.integration_events: append-only. Only capto_service inserts (src/audit);
--     owners/admins of the business read through RLS; nobody holds UPDATE, DELETE or
--     TRUNCATE, and triggers ENABLED ALWAYS refuse them even for the table owner's
--     sessions (short of disabling the triggers, which the hash chain then reveals).
--   * app.twilio_configs / app.google_connections: members read (no SID, no secret
--     reference); writes go through capto_service, and a trigger refuses any change
--     that has no audit row, in the same transaction, whose actor is an owner or admin
--     of the business. So "owner/admin only" and "every change is audited" hold for
--     every role, not just in route code.

-- ---------------------------------------------------------------------------
-- vault: per-business data keys wrapped by the master key; secrets sealed by them
-- ---------------------------------------------------------------------------
CREATE TABLE vault.data_keys (
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  version integer NOT NULL DEFAULT 1 CHECK (version > 0),
  -- AES-256-GCM envelope of the 32-byte data key under the master key (AAD binds it
  -- to business_id and version); master_key_version repeats the envelope's for rotation.
  wrapped jsonb NOT NULL CHECK (wrapped ? 'ciphertext' AND wrapped ? 'nonce' AND wrapped ? 'key_version'),
  master_key_version integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  rewrapped_at timestamptz,
  PRIMARY KEY (business_id, version)
);
CREATE INDEX data_keys_master_key_version_idx ON vault.data_keys (master_key_version);
ALTER TABLE vault.data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault.data_keys FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON vault.data_keys TO capto_service;
GRANT UPDATE (wrapped, master_key_version, rewrapped_at) ON vault.data_keys TO capto_service;
CREATE POLICY data_keys_all_service ON vault.data_keys FOR ALL TO capto_service USING (true) WITH CHECK (true);

CREATE TABLE vault.secrets (
  id uuid PRIMARY KEY,
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('twilio.auth_token', 'google.oauth_tokens')),
  -- The data key version that sealed it; part of the AAD with business_id, id and kind.
  key_version integer NOT NULL,
  nonce bytea NOT NULL CHECK (length(nonce) = 12),
  ciphertext bytea NOT NULL CHECK (length(ciphertext) BETWEEN 17 AND 16384),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (business_id, key_version) REFERENCES vault.data_keys (business_id, version) ON DELETE CASCADE
);
CREATE INDEX secrets_business_id_idx ON vault.secrets (business_id, key_version);
ALTER TABLE vault.secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault.secrets FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, DELETE ON vault.secrets TO capto_service;
GRANT UPDATE (key_version, nonce, ciphertext, updated_at) ON vault.secrets TO capto_service;
CREATE POLICY secrets_all_service ON vault.secrets FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- Pending Google OAuth flows: state (hashed) → who started it, for which business, and
-- the PKCE verifier. Ten minutes, single use. In the vault schema: no request role
-- can read a verifier.
CREATE TABLE vault.oauth_flows (
  state_hash bytea PRIMARY KEY CHECK (length(state_hash) = 32),
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  code_verifier text NOT NULL CHECK (length(code_verifier) BETWEEN 43 AND 128),
  nonce text NOT NULL CHECK (length(nonce) BETWEEN 16 AND 128),
  ip text CHECK (length(ip) <= 64),
  user_agent text CHECK (length(user_agent) <= 512),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX oauth_flows_business_id_idx ON vault.oauth_flows (business_id);
CREATE INDEX oauth_flows_user_id_idx ON vault.oauth_flows (user_id);
ALTER TABLE vault.oauth_flows ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault.oauth_flows FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, DELETE ON vault.oauth_flows TO capto_service;
CREATE POLICY oauth_flows_all_service ON vault.oauth_flows FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- audit.integration_events (P6)
-- No foreign key to app.businesses or auth.users on purpose: deleting a business or
-- a user must neither cascade into the audit log nor be blocked by it. A deleted
-- business's rows stay (readable by no request role, since nobody is a member any
-- more; the CLI and backups keep them) — the record of who changed credentials
-- outlives the tenant.
-- ---------------------------------------------------------------------------
CREATE SCHEMA audit;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO capto_authenticated, capto_service;

CREATE TABLE audit.integration_events (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor_user_id uuid,
  actor_email text CHECK (length(actor_email) <= 254),
  action text NOT NULL CHECK (action IN ('twilio.config.added', 'twilio.config.removed', 'twilio.config.default_set',
    'google.connected', 'google.disconnected')),
  subject_id uuid,
  -- Masked SID, number, name: never a credential (the CHECK is a backstop for the code).
  details jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (
    jsonb_typeof(details) = 'object' AND pg_column_size(details) <= 2048
    AND NOT details ?| array['auth_token', 'token', 'access_token', 'refresh_token', 'id_token', 'password', 'secret', 'account_sid']
  ),
  ip text CHECK (length(ip) <= 64),
  user_agent text CHECK (length(user_agent) <= 512),
  prev_hash text CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  -- The writing transaction, so the change triggers below can demand "an audit row in
  -- THIS transaction". Set by the trigger; not part of the hash.
  xact_id xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX integration_events_business_idx ON audit.integration_events (business_id, seq);
CREATE INDEX integration_events_xact_idx ON audit.integration_events (xact_id);
ALTER TABLE audit.integration_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit.integration_events FORCE ROW LEVEL SECURITY;

GRANT SELECT ON audit.integration_events TO capto_authenticated;
CREATE POLICY integration_events_select_admin ON audit.integration_events FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.business_ids_with_role('admin'))));
GRANT SELECT, INSERT ON audit.integration_events TO capto_service;
CREATE POLICY integration_events_select_service ON audit.integration_events FOR SELECT TO capto_service USING (true);
CREATE POLICY integration_events_insert_service ON audit.integration_events FOR INSERT TO capto_service WITH CHECK (true);

-- The database clock and the writing transaction are not the writer's to choose, and
-- the chain must stay linear: prev_hash must be the business's current head. The
-- advisory lock (also taken by src/audit before it reads the head) serialises writers
-- of one business, so two concurrent changes cannot both link to the same head.
CREATE FUNCTION audit.prepare_integration_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  head text;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('capto.audit:' || NEW.business_id::text, 0));
  NEW.occurred_at := pg_catalog.now();
  NEW.xact_id := pg_catalog.pg_current_xact_id();
  SELECT e.hash INTO head FROM audit.integration_events e
   WHERE e.business_id = NEW.business_id ORDER BY e.seq DESC LIMIT 1;
  IF NEW.prev_hash IS DISTINCT FROM head THEN
    RAISE EXCEPTION 'audit chain fork: prev_hash is not the head of business %', NEW.business_id USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION audit.prepare_integration_event() FROM PUBLIC;

CREATE FUNCTION audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  RAISE EXCEPTION 'audit.integration_events is append-only (% refused)', TG_OP USING ERRCODE = '42501';
END $$;
REVOKE ALL ON FUNCTION audit.refuse_change() FROM PUBLIC;

CREATE TRIGGER integration_events_prepare BEFORE INSERT ON audit.integration_events
  FOR EACH ROW EXECUTE FUNCTION audit.prepare_integration_event();
CREATE TRIGGER integration_events_no_update_delete BEFORE UPDATE OR DELETE ON audit.integration_events
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER integration_events_no_truncate BEFORE TRUNCATE ON audit.integration_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
-- ALWAYS: also under session_replication_role = replica (logical replication, restores).
ALTER TABLE audit.integration_events ENABLE ALWAYS TRIGGER integration_events_prepare;
ALTER TABLE audit.integration_events ENABLE ALWAYS TRIGGER integration_events_no_update_delete;
ALTER TABLE audit.integration_events ENABLE ALWAYS TRIGGER integration_events_no_truncate;

-- A change to an audited table must come with its audit row in the same transaction,
-- written by an owner/admin of the business. TG_ARGV[0] is the action; TG_ARGV[1]
-- 'subject' demands the row's own id as subject, 'business' any subject of the business.
CREATE FUNCTION audit.require_integration_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  bid uuid;
  rid uuid;
BEGIN
  IF TG_OP = 'DELETE' THEN
    bid := OLD.business_id; rid := OLD.id;
    -- The business itself is being deleted (cascade): nothing left to audit against.
    IF NOT EXISTS (SELECT 1 FROM app.businesses b WHERE b.id = bid) THEN
      RETURN OLD;
    END IF;
  ELSE
    bid := NEW.business_id; rid := NEW.id;
  END IF;
  IF NOT EXISTS (
    SELECT 1 FROM audit.integration_events e
     WHERE e.xact_id = pg_catalog.pg_current_xact_id()
       AND e.business_id = bid
       AND e.action = TG_ARGV[0]
       AND (TG_ARGV[1] = 'business' OR e.subject_id = rid)
       AND EXISTS (SELECT 1 FROM app.memberships m
                    WHERE m.business_id = bid AND m.user_id = e.actor_user_id AND m.role >= 'admin')
  ) THEN
    RAISE EXCEPTION 'integration changes need an audit row by an owner or admin in the same transaction (%)', TG_ARGV[0]
      USING ERRCODE = '42501';
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION audit.require_integration_event() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- app.twilio_configs: bring-your-own Twilio. The auth token lives in vault.secrets.
-- ---------------------------------------------------------------------------
CREATE TABLE app.twilio_configs (
  id uuid PRIMARY KEY,
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  friendly_name text NOT NULL CHECK (length(btrim(friendly_name)) BETWEEN 1 AND 100),
  account_sid text NOT NULL CHECK (account_sid ~ '^AC[0-9a-f]{32}$'),
  account_sid_masked text GENERATED ALWAYS AS ('AC…' || right(account_sid, 4)) STORED,
  phone_number text NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
  secret_id uuid NOT NULL REFERENCES vault.secrets (id),
  is_default boolean NOT NULL DEFAULT false,
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, id),
  UNIQUE (business_id, phone_number),
  UNIQUE (secret_id)
);
-- Exactly one default per business (when it has any configuration).
CREATE UNIQUE INDEX twilio_configs_one_default ON app.twilio_configs (business_id) WHERE is_default;
CREATE INDEX twilio_configs_business_idx ON app.twilio_configs (business_id, created_at);
CREATE INDEX twilio_configs_created_by_idx ON app.twilio_configs (created_by);
ALTER TABLE app.twilio_configs ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.twilio_configs FORCE ROW LEVEL SECURITY;

-- Members see the list: masked SID only, no secret reference. No write grant at all
-- for requests: changes are audited service functions (checked by the triggers below).
GRANT SELECT (id, business_id, friendly_name, account_sid_masked, phone_number, is_default, created_by, created_at)
  ON app.twilio_configs TO capto_authenticated;
CREATE POLICY twilio_configs_select_member ON app.twilio_configs FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
GRANT SELECT, INSERT, DELETE ON app.twilio_configs TO capto_service;
GRANT UPDATE (is_default) ON app.twilio_configs TO capto_service;
CREATE POLICY twilio_configs_all_service ON app.twilio_configs FOR ALL TO capto_service USING (true) WITH CHECK (true);

CREATE TRIGGER twilio_configs_audited_insert AFTER INSERT ON app.twilio_configs
  FOR EACH ROW EXECUTE FUNCTION audit.require_integration_event('twilio.config.added', 'subject');
CREATE TRIGGER twilio_configs_audited_delete AFTER DELETE ON app.twilio_configs
  FOR EACH ROW EXECUTE FUNCTION audit.require_integration_event('twilio.config.removed', 'subject');
CREATE TRIGGER twilio_configs_audited_default AFTER UPDATE OF is_default ON app.twilio_configs
  FOR EACH ROW WHEN (OLD.is_default IS DISTINCT FROM NEW.is_default)
  EXECUTE FUNCTION audit.require_integration_event('twilio.config.default_set', 'business');

-- Conversations point at the configuration they run through (column from 0004).
ALTER TABLE app.conversations ADD CONSTRAINT conversations_twilio_config_fkey
  FOREIGN KEY (business_id, twilio_config_id) REFERENCES app.twilio_configs (business_id, id) ON DELETE SET NULL (twilio_config_id);

-- ---------------------------------------------------------------------------
-- app.google_connections: one Google account per business; tokens in the vault.
-- ---------------------------------------------------------------------------
CREATE TABLE app.google_connections (
  id uuid PRIMARY KEY,
  business_id uuid NOT NULL UNIQUE REFERENCES app.businesses (id) ON DELETE CASCADE,
  google_email text CHECK (length(google_email) <= 254),
  scopes text[] NOT NULL DEFAULT '{}',
  secret_id uuid NOT NULL UNIQUE REFERENCES vault.secrets (id),
  connected_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  connected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX google_connections_connected_by_idx ON app.google_connections (connected_by);
ALTER TABLE app.google_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.google_connections FORCE ROW LEVEL SECURITY;
GRANT SELECT (id, business_id, google_email, scopes, connected_by, connected_at) ON app.google_connections TO capto_authenticated;
CREATE POLICY google_connections_select_member ON app.google_connections FOR SELECT TO capto_authenticated
  USING (business_id = ANY (array(select app.member_business_ids())));
GRANT SELECT, INSERT, DELETE ON app.google_connections TO capto_service;
CREATE POLICY google_connections_all_service ON app.google_connections FOR ALL TO capto_service USING (true) WITH CHECK (true);

CREATE TRIGGER google_connections_audited_insert AFTER INSERT ON app.google_connections
  FOR EACH ROW EXECUTE FUNCTION audit.require_integration_event('google.connected', 'subject');
CREATE TRIGGER google_connections_audited_delete AFTER DELETE ON app.google_connections
  FOR EACH ROW EXECUTE FUNCTION audit.require_integration_event('google.disconnected', 'subject');
