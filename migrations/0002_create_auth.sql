-- Authentication (issue 3): credentials on auth.users, external identities, sessions,
-- rotating refresh tokens, one-time tokens (verify / reset), auth audit events, and
-- the vault schema holding the JWT signing keys. Every table forces RLS; the
-- browser-facing role reads only her own sessions and her own events, and every
-- write goes through capto_service policies (the auth flows run as capto_service).

-- ---------------------------------------------------------------------------
-- users: credentials. The password hash must never be readable by a request role,
-- so the table-wide SELECT of 0001 is replaced by a column list.
-- ---------------------------------------------------------------------------
ALTER TABLE auth.users
  ADD COLUMN password_hash text CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%'),
  ADD COLUMN email_verified_at timestamptz,
  -- HIBP was unreachable when this password was set: re-check at the next sign-in.
  ADD COLUMN password_check_pending boolean NOT NULL DEFAULT false,
  -- The password was found breached after the fact: sign-in yields only a reset token.
  ADD COLUMN must_change_password boolean NOT NULL DEFAULT false,
  ADD COLUMN password_changed_at timestamptz,
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

REVOKE SELECT ON auth.users FROM capto_authenticated;
GRANT SELECT (id, email, email_verified_at, created_at) ON auth.users TO capto_authenticated;

-- ---------------------------------------------------------------------------
-- identities: external sign-in subjects, keyed by (provider, subject) — never by
-- email, which an IdP may let a user change.
-- ---------------------------------------------------------------------------
CREATE TABLE auth.identities (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  provider text NOT NULL CHECK (provider IN ('google')),
  subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
  email extensions.citext,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_sign_in_at timestamptz,
  UNIQUE (provider, subject)
);
CREATE INDEX identities_user_id_idx ON auth.identities (user_id);
ALTER TABLE auth.identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.identities FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.identities TO capto_service;
CREATE POLICY identities_all_service ON auth.identities FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- sessions: one per sign-in. `not_after` is the absolute limit; `idle_timeout`
-- (from the config at creation) bounds the gap since the last refresh.
-- ---------------------------------------------------------------------------
CREATE TABLE auth.sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  user_agent text CHECK (length(user_agent) <= 512),
  ip text CHECK (length(ip) <= 64),
  created_at timestamptz NOT NULL DEFAULT now(),
  refreshed_at timestamptz NOT NULL DEFAULT now(),
  not_after timestamptz NOT NULL,
  idle_timeout interval NOT NULL,
  revoked_at timestamptz,
  revoked_reason text CHECK (revoked_reason IN ('sign_out', 'sign_out_global', 'sign_out_others', 'revoked_by_user',
    'refresh_token_reused', 'password_changed', 'password_reset')),
  CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX sessions_user_id_idx ON auth.sessions (user_id, created_at DESC);
ALTER TABLE auth.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.sessions FORCE ROW LEVEL SECURITY;
GRANT SELECT ON auth.sessions TO capto_authenticated;
CREATE POLICY sessions_select_own ON auth.sessions FOR SELECT TO capto_authenticated
  USING (user_id = (select app.uid()));
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.sessions TO capto_service;
CREATE POLICY sessions_all_service ON auth.sessions FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- refresh_tokens: only the SHA-256 of the 256-bit token is stored. A token is live
-- while rotated_at and revoked_at are NULL; `parent_id` links the rotation chain.
-- ---------------------------------------------------------------------------
CREATE TABLE auth.refresh_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id uuid NOT NULL REFERENCES auth.sessions (id) ON DELETE CASCADE,
  token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  parent_id uuid REFERENCES auth.refresh_tokens (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  rotated_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX refresh_tokens_session_id_idx ON auth.refresh_tokens (session_id);
CREATE INDEX refresh_tokens_parent_id_idx ON auth.refresh_tokens (parent_id);
ALTER TABLE auth.refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.refresh_tokens FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.refresh_tokens TO capto_service;
CREATE POLICY refresh_tokens_all_service ON auth.refresh_tokens FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- one_time_tokens: email verification and password reset links, stored as SHA-256,
-- single use (used_at), short-lived (expires_at).
-- ---------------------------------------------------------------------------
CREATE TABLE auth.one_time_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  purpose text NOT NULL CHECK (purpose IN ('email_verify', 'password_reset')),
  token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  -- The address the link was sent to: verifying proves control of THIS address only.
  email extensions.citext NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX one_time_tokens_user_id_idx ON auth.one_time_tokens (user_id, purpose);
ALTER TABLE auth.one_time_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.one_time_tokens FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.one_time_tokens TO capto_service;
CREATE POLICY one_time_tokens_all_service ON auth.one_time_tokens FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- audit_events (P10): append-only for the service role; a user reads her own.
-- ---------------------------------------------------------------------------
CREATE TABLE auth.audit_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE,
  session_id uuid,
  type text NOT NULL CHECK (type IN ('sign_up', 'sign_in', 'sign_in_failed', 'sign_out', 'token_refreshed',
    'refresh_token_reused', 'session_revoked', 'password_changed', 'password_reset_requested', 'password_reset',
    'email_verified', 'identity_linked', 'password_check_pending', 'rate_limited')),
  ip text CHECK (length(ip) <= 64),
  user_agent text CHECK (length(user_agent) <= 512),
  details jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_user_id_idx ON auth.audit_events (user_id, created_at DESC);
ALTER TABLE auth.audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.audit_events FORCE ROW LEVEL SECURITY;
GRANT SELECT ON auth.audit_events TO capto_authenticated;
CREATE POLICY audit_events_select_own ON auth.audit_events FOR SELECT TO capto_authenticated
  USING (user_id = (select app.uid()));
-- Append-only: the service role inserts and reads, never updates or deletes.
GRANT SELECT, INSERT ON auth.audit_events TO capto_service;
CREATE POLICY audit_events_insert_service ON auth.audit_events FOR INSERT TO capto_service WITH CHECK (true);
CREATE POLICY audit_events_select_service ON auth.audit_events FOR SELECT TO capto_service USING (true);

-- ---------------------------------------------------------------------------
-- vault (DESIGN §5): key material, only as AES-256-GCM envelopes sealed by src/vault.
-- The browser-facing roles get no USAGE on the schema at all.
-- ---------------------------------------------------------------------------
CREATE SCHEMA vault;
REVOKE ALL ON SCHEMA vault FROM PUBLIC;
GRANT USAGE ON SCHEMA vault TO capto_service;

-- JWT signing keys. The public JWK is published; the private key exists here only
-- as a vault envelope (AAD binds it to its kid). `retire_after`: the key stops
-- signing at rotation and is dropped from the JWKS once its last token expired.
CREATE TABLE vault.jwt_signing_keys (
  kid text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{8,64}$'),
  alg text NOT NULL DEFAULT 'ES256' CHECK (alg = 'ES256'),
  public_jwk jsonb NOT NULL,
  private_key jsonb NOT NULL CHECK (private_key ? 'ciphertext' AND private_key ? 'nonce' AND private_key ? 'key_version'),
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz,
  publish_until timestamptz
);
ALTER TABLE vault.jwt_signing_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault.jwt_signing_keys FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE ON vault.jwt_signing_keys TO capto_service;
CREATE POLICY jwt_signing_keys_all_service ON vault.jwt_signing_keys FOR ALL TO capto_service USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- app.session_is_live(): true only when the claims' session belongs to the claims'
-- user, is not revoked, not past its absolute limit and not idle too long. Called in
-- the round trip that opens every user transaction, so sign-out is effective at once.
-- ---------------------------------------------------------------------------
CREATE FUNCTION app.session_is_live() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  raw text := current_setting('request.jwt.claims', true);
  claims jsonb;
BEGIN
  IF raw IS NULL OR raw = '' THEN
    RETURN false;
  END IF;
  claims := raw::jsonb;
  RETURN EXISTS (
    SELECT 1 FROM auth.sessions s
    WHERE s.id = (claims ->> 'sid')::uuid
      AND s.user_id = (claims ->> 'sub')::uuid
      AND s.revoked_at IS NULL
      AND s.not_after > now()
      AND s.refreshed_at + s.idle_timeout > now()
  );
EXCEPTION WHEN others THEN
  -- Malformed claims mean "not live", never an error path a caller might treat differently.
  RETURN false;
END $$;
REVOKE ALL ON FUNCTION app.session_is_live() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.session_is_live() TO capto_authenticated, capto_service;
