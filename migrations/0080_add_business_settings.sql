-- Business settings for outreach (docs/ARCHITECTURE.md "Business settings"): the
-- business's IANA time zone (quiet hours and scheduled sends are computed in it) and its
-- postal address (CAN-SPAM: every campaign email carries it in the footer).
-- Owners and admins change them through the existing UPDATE policy of app.businesses.

-- A time zone PostgreSQL knows under an IANA-style name. Not a POSIX string such as
-- 'FOO+3', which AT TIME ZONE would also accept.
CREATE FUNCTION app.is_time_zone(tz text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  IF tz IS NULL OR tz !~ '^[A-Za-z][A-Za-z0-9_]*(/[A-Za-z0-9_+-]+){0,2}$' OR length(tz) > 64 THEN
    RETURN false;
  END IF;
  PERFORM now() AT TIME ZONE tz;
  RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
  RETURN false;
END
$$;
REVOKE ALL ON FUNCTION app.is_time_zone(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.is_time_zone(text) TO capto_authenticated, capto_service;

ALTER TABLE app.businesses
  ADD COLUMN time_zone text NOT NULL DEFAULT 'America/New_York'
    CONSTRAINT businesses_time_zone_check CHECK (app.is_time_zone(time_zone)),
  ADD COLUMN postal_address text
    CONSTRAINT businesses_postal_address_check CHECK (length(btrim(postal_address)) BETWEEN 1 AND 500);

GRANT UPDATE (time_zone, postal_address) ON app.businesses TO capto_authenticated;
